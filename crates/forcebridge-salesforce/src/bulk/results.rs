//! Reading a Bulk API 2.0 ingest job's result files (`successfulResults/`, `failedResults/`,
//! `unprocessedrecords/`) incrementally, as their bytes arrive, and mapping each row back to the
//! caller's input row.
//!
//! A result file of a 100 MB job is itself over 100 MB; it is never held whole. The parser keeps
//! one partial record between chunks; memory is one record plus the job's [`RowMap`].
//!
//! Invariant: each result row is reported at most once, through the [`RowMap`]: a row already
//! taken (e.g. when a download is read again after a broken connection) is skipped.

use super::{RowMap, RowOutcome};
use crate::error::{Error, Result};

/// Which result file a CSV came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultKind {
    /// `successfulResults/`: `sf__Id`, `sf__Created`, then the input columns.
    Successful,
    /// `failedResults/`: `sf__Id`, `sf__Error`, then the input columns.
    Failed,
    /// `unprocessedrecords/`: the input columns.
    Unprocessed,
}

/// Where the columns the reader needs sit in the file (from its header line).
#[derive(Debug)]
struct Layout {
    columns: Vec<usize>,
    id: Option<usize>,
    created: Option<usize>,
    error: Option<usize>,
}

/// An incremental reader of one result file.
pub struct ResultReader<'c> {
    kind: ResultKind,
    columns: &'c [String],
    csv: csv_core::Reader,
    /// The record being parsed: its field bytes and field end offsets.
    out: Vec<u8>,
    out_len: usize,
    ends: Vec<usize>,
    ends_len: usize,
    layout: Option<Layout>,
    /// Whether rows already taken are expected (a re-read): then they are skipped quietly.
    rereading: bool,
    /// The parser asked for more input (set by each step).
    waiting: bool,
    done: bool,
}

impl std::fmt::Debug for ResultReader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResultReader")
            .field("kind", &self.kind)
            .field("columns", &self.columns)
            .field("layout", &self.layout)
            .finish_non_exhaustive()
    }
}

fn decode(reason: impl std::fmt::Display) -> Error {
    Error::decode("bulk results", reason, b"")
}

impl<'c> ResultReader<'c> {
    /// A reader of a `kind` file for a job uploaded with `columns`.
    pub fn new(kind: ResultKind, columns: &'c [String]) -> Self {
        ResultReader {
            kind,
            columns,
            csv: csv_core::Reader::new(),
            out: vec![0; 4096],
            out_len: 0,
            ends: vec![0; 64],
            ends_len: 0,
            layout: None,
            rereading: false,
            waiting: false,
            done: false,
        }
    }

    /// Marks this read as a second read of the same file: rows already reported are skipped
    /// without a warning.
    pub fn rereading(mut self) -> Self {
        self.rereading = true;
        self
    }

    /// Feeds the next bytes of the file; `emit` gets `(input row within the job, outcome)` for
    /// every complete result row they finish.
    ///
    /// # Errors
    /// [`Error::Decode`] when the file lacks an input column or a row is not UTF-8.
    pub fn feed(
        &mut self,
        mut input: &[u8],
        map: &mut RowMap,
        emit: &mut dyn FnMut(u32, RowOutcome),
    ) -> Result<()> {
        // csv_core reads an empty input as the end of the file: only `finish` passes one.
        while !input.is_empty() {
            let n = self.step(input, map, emit)?;
            input = input.get(n..).unwrap_or_default();
        }
        Ok(())
    }

    /// Ends the file (a last line without a newline is a row too).
    ///
    /// # Errors
    /// As [`ResultReader::feed`].
    pub fn finish(&mut self, map: &mut RowMap, emit: &mut dyn FnMut(u32, RowOutcome)) -> Result<()> {
        while !self.done {
            self.step(&[], map, emit)?;
            if self.waiting {
                break; // cannot happen at end of input; never spin on it
            }
        }
        Ok(())
    }

    /// One call into the CSV state machine; returns the input bytes consumed.
    fn step(
        &mut self,
        input: &[u8],
        map: &mut RowMap,
        emit: &mut dyn FnMut(u32, RowOutcome),
    ) -> Result<usize> {
        use csv_core::ReadRecordResult as R;
        let out = self.out.get_mut(self.out_len..).unwrap_or_default();
        let ends = self.ends.get_mut(self.ends_len..).unwrap_or_default();
        let (result, n_in, n_out, n_ends) = self.csv.read_record(input, out, ends);
        // csv_core writes field ends as offsets from the start of the record, across calls.
        self.out_len += n_out;
        self.ends_len += n_ends;
        self.waiting = matches!(result, R::InputEmpty);
        match result {
            R::InputEmpty => {}
            R::OutputFull => {
                let len = self.out.len() * 2;
                self.out.resize(len, 0);
            }
            R::OutputEndsFull => {
                let len = self.ends.len() * 2;
                self.ends.resize(len, 0);
            }
            R::Record => {
                self.record(map, emit)?;
                self.out_len = 0;
                self.ends_len = 0;
            }
            R::End => self.done = true,
        }
        Ok(n_in)
    }

    fn record(&mut self, map: &mut RowMap, emit: &mut dyn FnMut(u32, RowOutcome)) -> Result<()> {
        let bytes = self.out.get(..self.out_len).unwrap_or_default();
        let mut fields: Vec<&str> = Vec::with_capacity(self.ends_len);
        let mut start = 0;
        for &end in self.ends.get(..self.ends_len).unwrap_or_default() {
            let raw = bytes.get(start..end).unwrap_or_default();
            fields.push(
                std::str::from_utf8(raw).map_err(|e| decode(format!("a result cell is not UTF-8: {e}")))?,
            );
            start = end;
        }
        let Some(layout) = &self.layout else {
            let pos = |name: &str| fields.iter().position(|h| *h == name);
            let columns = self
                .columns
                .iter()
                .map(|c| pos(c).ok_or_else(|| decode(format!("column {c} missing"))))
                .collect::<Result<_>>()?;
            self.layout = Some(Layout {
                columns,
                id: pos("sf__Id"),
                created: pos("sf__Created"),
                error: pos("sf__Error"),
            });
            return Ok(());
        };
        let values: Vec<&str> = layout
            .columns
            .iter()
            .map(|&i| fields.get(i).copied().unwrap_or(""))
            .collect();
        let Some(index) = map.take(&values) else {
            if !self.rereading {
                tracing::warn!("a bulk result row matches no uploaded row; it is ignored");
            }
            return Ok(());
        };
        let cell = |i: Option<usize>| i.and_then(|i| fields.get(i).copied());
        let id = cell(layout.id).filter(|s| !s.is_empty()).map(str::to_string);
        let outcome = match self.kind {
            ResultKind::Successful => RowOutcome::Success {
                id: id.unwrap_or_default(),
                created: cell(layout.created).is_some_and(|s| s.eq_ignore_ascii_case("true")),
            },
            ResultKind::Failed => RowOutcome::Failed {
                id,
                error: cell(layout.error).unwrap_or("").to_string(),
            },
            ResultKind::Unprocessed => RowOutcome::Unprocessed,
        };
        emit(index, outcome);
        Ok(())
    }
}

/// Reads a whole result CSV held in memory and maps each row to its input row (within the job)
/// with its outcome, in file order.
///
/// # Errors
/// [`Error::Decode`] when the CSV does not parse or lacks the input columns.
pub fn map_results(
    kind: ResultKind,
    columns: &[String],
    csv_body: &[u8],
    map: &mut RowMap,
) -> Result<Vec<(u32, RowOutcome)>> {
    let mut out = Vec::new();
    let mut reader = ResultReader::new(kind, columns);
    let mut emit = |i: u32, o: RowOutcome| out.push((i, o));
    reader.feed(csv_body, map, &mut emit)?;
    reader.finish(map, &mut emit)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::tests::cols;
    use super::*;

    #[test]
    fn rows_split_across_chunks_anywhere_are_read_once() {
        let columns = cols(&["Name", "Note"]);
        let body = "\"sf__Id\",\"sf__Created\",\"Name\",\"Note\"\n\"001000000000001AAA\",\"true\",\"a\",\"line\nbreak, \"\"quoted\"\"\"\n\"001000000000002AAA\",\"false\",\"b\",\"x\"";
        // Every split point, including inside quotes and the header.
        for cut in 0..body.len() {
            let mut map = RowMap::default();
            map.push(&cols(&["a", "line\nbreak, \"quoted\""]));
            map.push(&cols(&["b", "x"]));
            let mut got = Vec::new();
            let mut reader = ResultReader::new(ResultKind::Successful, &columns);
            let mut emit = |i: u32, o: RowOutcome| got.push((i, o));
            let (a, b) = body.as_bytes().split_at(cut);
            reader.feed(a, &mut map, &mut emit).unwrap();
            reader.feed(b, &mut map, &mut emit).unwrap();
            reader.finish(&mut map, &mut emit).unwrap();
            assert_eq!(got.len(), 2, "cut at {cut}");
            assert_eq!(got[0].0, 0);
            assert_eq!(
                got[1],
                (
                    1,
                    RowOutcome::Success {
                        id: "001000000000002AAA".into(),
                        created: false
                    }
                )
            );
        }
    }

    #[test]
    fn a_missing_input_column_is_a_decode_error() {
        let columns = cols(&["Name", "Ext__c"]);
        let mut map = RowMap::default();
        let err = map_results(
            ResultKind::Failed,
            &columns,
            b"\"sf__Id\",\"sf__Error\",\"Name\"\n",
            &mut map,
        )
        .unwrap_err();
        assert!(err.to_string().contains("Ext__c"), "{err}");
    }
}
