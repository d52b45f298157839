//! The runs' SQL, written once and expanded beside `define_control_sql!` in each backend's module
//! (it uses that module's `Conn`, `Row` and imports).
//!
//! Invariant: every query names the tenant in its `WHERE` clause; only `queued` and `running`
//! runs change state, so a finished run stays as it ended.

macro_rules! define_runs_sql {
    () => {
        const RUN_COLS: &str = "id, tenant_id, kind, install_id, connection_id, state, attempts, progress_done, \
             progress_total, progress_step, error, report, actor, created_at, updated_at";

        fn run_from_row(row: &Row) -> Result<Run> {
            let count = |name: &str| -> Result<u32> {
                let v: i64 = row.try_get(name)?;
                u32::try_from(v).map_err(|_| Error::corrupt("runs", format!("{name} {v}")))
            };
            let error = match row.try_get::<Option<String>, _>("error")? {
                Some(text) => Some(
                    serde_json::from_str::<RunError>(&text)
                        .map_err(|e| Error::corrupt("runs", format!("error: {e}")))?,
                ),
                None => None,
            };
            let report = match row.try_get::<Option<String>, _>("report")? {
                Some(text) => Some(parse_json(&text, "runs")?),
                None => None,
            };
            Ok(Run {
                id: row.try_get("id")?,
                tenant_id: TenantId::parse(row.try_get("tenant_id")?)?,
                kind: row.try_get("kind")?,
                install_id: row
                    .try_get::<Option<String>, _>("install_id")?
                    .map(|s| crate::model::InstallId::parse(&s))
                    .transpose()?,
                connection_id: row
                    .try_get::<Option<String>, _>("connection_id")?
                    .map(|s| ConnectionId::parse(&s))
                    .transpose()?,
                state: RunState::parse(row.try_get("state")?)?,
                attempts: count("attempts")?,
                progress: RunProgress {
                    done: count("progress_done")?,
                    total: count("progress_total")?,
                    step: row.try_get("progress_step")?,
                },
                error,
                report,
                actor: row.try_get("actor")?,
                created_at: from_millis(row.try_get("created_at")?),
                updated_at: from_millis(row.try_get("updated_at")?),
            })
        }

        pub(crate) async fn insert_run(c: &mut Conn, ctx: &Ctx, tenant: &TenantId, id: &str, new: &NewRun) -> Result<()> {
            let now = now_ms(ctx);
            sqlx::query(
                "INSERT INTO runs (id, tenant_id, kind, install_id, connection_id, state, attempts, progress_done, \
                 progress_total, actor, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, 'queued', 0, 0, $6, $7, $8, $8)",
            )
            .bind(id)
            .bind(tenant.as_str())
            .bind(&new.kind)
            .bind(new.install_id.as_ref().map(|i| i.as_str()))
            .bind(new.connection_id.as_ref().map(|i| i.as_str()))
            .bind(i64::from(new.total))
            .bind(&new.actor)
            .bind(now)
            .execute(&mut *c)
            .await?;
            Ok(())
        }

        pub(crate) async fn get_run(c: &mut Conn, tenant: &TenantId, id: &str) -> Result<Run> {
            let sql = format!("SELECT {RUN_COLS} FROM runs WHERE tenant_id = $1 AND id = $2");
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(tenant.as_str())
                .bind(id)
                .fetch_optional(&mut *c)
                .await?
                .ok_or_else(|| Error::not_found("run", id))?;
            run_from_row(&row)
        }

        pub(crate) async fn active_run(
            c: &mut Conn,
            tenant: &TenantId,
            install: &crate::model::InstallId,
            kind: &str,
        ) -> Result<Option<Run>> {
            let sql = format!(
                "SELECT {RUN_COLS} FROM runs WHERE tenant_id = $1 AND install_id = $2 AND kind = $3 \
                 AND state IN ('queued', 'running')"
            );
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(tenant.as_str())
                .bind(install.as_str())
                .bind(kind)
                .fetch_optional(&mut *c)
                .await?;
            row.as_ref().map(run_from_row).transpose()
        }

        pub(crate) async fn list_runs(c: &mut Conn, tenant: &TenantId, filter: &RunFilter, limit: i64) -> Result<Vec<Run>> {
            let mut sql = format!(
                "SELECT {RUN_COLS} FROM runs WHERE tenant_id = $1 AND ($2 = '' OR install_id = $2) \
                 AND ($3 = '' OR id < $3)"
            );
            let conns: &[ConnectionId] = filter.connection_ids.as_deref().unwrap_or(&[]);
            if filter.connection_ids.is_some() {
                let marks: Vec<String> = (0..conns.len()).map(|i| format!("${}", i + 5)).collect();
                sql.push_str(&format!(" AND connection_id IN ({})", marks.join(", ")));
            }
            sql.push_str(" ORDER BY id DESC LIMIT $4");
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(tenant.as_str())
                .bind(filter.install_id.as_ref().map_or("", |i| i.as_str()))
                .bind(filter.before_id.as_deref().unwrap_or(""))
                .bind(limit);
            for conn in conns {
                q = q.bind(conn.as_str());
            }
            let rows = q.fetch_all(&mut *c).await?;
            rows.iter().map(run_from_row).collect()
        }

        async fn update_live_run(c: &mut Conn, tenant: &TenantId, id: &str, set: &str, binds: &[Option<String>], now: i64) -> Result<()> {
            // $1 tenant, $2 id, $3 now, then the caller's values.
            let sql = format!(
                "UPDATE runs SET {set}, updated_at = $3 WHERE tenant_id = $1 AND id = $2 \
                 AND state IN ('queued', 'running')"
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(tenant.as_str()).bind(id).bind(now);
            for b in binds {
                q = q.bind(b.as_deref());
            }
            let n = q.execute(&mut *c).await?.rows_affected();
            found_unless_none(c, tenant, id, n).await
        }

        /// After an update of a live run that changed `n` rows: none changed means it does not
        /// exist (for this tenant) or it is over, and only the first is an error.
        async fn found_unless_none(c: &mut Conn, tenant: &TenantId, id: &str, n: u64) -> Result<()> {
            if n == 0 {
                get_run(&mut *c, tenant, id).await?;
            }
            Ok(())
        }

        pub(crate) async fn run_started(c: &mut Conn, ctx: &Ctx, tenant: &TenantId, id: &str, attempt: i64, total: i64) -> Result<()> {
            let sql = "UPDATE runs SET state = 'running', attempts = $4, progress_done = 0, progress_total = $5, \
                       progress_step = NULL, error = NULL, updated_at = $3 \
                       WHERE tenant_id = $1 AND id = $2 AND state IN ('queued', 'running')";
            let n = sqlx::query(sql)
                .bind(tenant.as_str())
                .bind(id)
                .bind(now_ms(ctx))
                .bind(attempt)
                .bind(total)
                .execute(&mut *c)
                .await?
                .rows_affected();
            found_unless_none(c, tenant, id, n).await
        }

        pub(crate) async fn run_progress(c: &mut Conn, ctx: &Ctx, tenant: &TenantId, id: &str, p: &RunProgress) -> Result<()> {
            let sql = "UPDATE runs SET progress_done = $4, progress_total = $5, progress_step = $6, updated_at = $3 \
                       WHERE tenant_id = $1 AND id = $2 AND state IN ('queued', 'running')";
            let n = sqlx::query(sql)
                .bind(tenant.as_str())
                .bind(id)
                .bind(now_ms(ctx))
                .bind(i64::from(p.done))
                .bind(i64::from(p.total))
                .bind(p.step.as_deref())
                .execute(&mut *c)
                .await?
                .rows_affected();
            found_unless_none(c, tenant, id, n).await
        }

        pub(crate) async fn run_retrying(c: &mut Conn, ctx: &Ctx, tenant: &TenantId, id: &str) -> Result<()> {
            update_live_run(c, tenant, id, "state = 'queued'", &[], now_ms(ctx)).await
        }

        pub(crate) async fn finish_run(c: &mut Conn, ctx: &Ctx, tenant: &TenantId, id: &str, end: &RunEnd) -> Result<()> {
            let (state, error, report) = match end {
                RunEnd::Succeeded(report) => ("succeeded", None, Some(report.to_string())),
                RunEnd::Failed(e) => (
                    "failed",
                    Some(serde_json::to_string(e).map_err(|e| Error::Invalid(format!("run error: {e}")))?),
                    None,
                ),
            };
            update_live_run(
                c,
                tenant,
                id,
                "state = $4, error = $5, report = $6",
                &[Some(state.to_owned()), error, report],
                now_ms(ctx),
            )
            .await
        }
    };
}

pub(crate) use define_runs_sql;
