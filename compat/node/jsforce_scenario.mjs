// Drive the forcebridge emulator with the unmodified `jsforce` 3 client (pinned in
// compat/node/package.json; installed with Node.js 22 by compat/node/setup.sh).
//
// Usage:
//   NODE_EXTRA_CA_CERTS=<ca_file> node compat/node/jsforce_scenario.mjs '<connection info JSON>'
//
// The JSON is the line `forcebridge emulator` prints. The scenario signs in with the OAuth
// username-password flow at the printed login URL, then exercises what clients used to trip on:
// an instance URL stored with a trailing slash, SOSL search and parameterized search, sObject
// Tree, Composite Batch and Graph, `query?columns=true`, list views, the Tooling describe,
// Bulk API 2.0 ingest and query, the Metadata API's describe / list / retrieve, Chatter's batch
// post, and — when the emulator runs several orgs — a second org that never sees the first's
// records. One line per step (`ok` / `FAIL`); exit status 0 only when no step failed.

import jsforce from 'jsforce';

const info = JSON.parse(process.argv[2] ?? '{}');
const VERSION = '66.0';
let failures = 0;
let passed = 0;

async function step(name, fn) {
  try {
    await fn();
    passed += 1;
    console.log(`ok   ${name}`);
  } catch (e) {
    failures += 1;
    console.log(`FAIL ${name}: ${e && e.stack ? e.stack : e}`);
  }
}

function assert(cond, message) {
  if (!cond) throw new Error(message);
}

async function login(loginUrl, username) {
  const conn = new jsforce.Connection({
    oauth2: { clientId: info.client_id, clientSecret: info.client_secret, loginUrl },
    version: VERSION,
  });
  await conn.login(username, info.password + info.security_token);
  return conn;
}

let conn;
const marker = `js${Date.now()}`;

await step('OAuth username-password login at the login URL', async () => {
  conn = await login(info.login_url, info.username);
  assert(conn.accessToken, 'no access token');
  assert(conn.instanceUrl === info.instance_url, `instanceUrl ${conn.instanceUrl} != ${info.instance_url}`);
});

await step('an instance URL stored with a trailing slash still works', async () => {
  const slashed = new jsforce.Connection({
    instanceUrl: `${info.instance_url}/`,
    accessToken: conn.accessToken,
    version: VERSION,
  });
  const r = await slashed.query('SELECT Id FROM User LIMIT 1');
  assert(r.totalSize >= 1, `query through the slashed URL: ${JSON.stringify(r)}`);
  const raw = await slashed.request(`${info.instance_url}//services/data/v${VERSION}/limits`);
  assert(raw.DailyApiRequests, `limits through a doubled slash: ${JSON.stringify(raw)}`);
});

await step('create records (sObject Collections)', async () => {
  const rs = await conn.sobject('Contact').create([
    { FirstName: 'Jane', LastName: `Doe${marker}`, Email: `jane.${marker}@example.com`, Phone: '(415) 555-0100' },
    { FirstName: 'John', LastName: `Roe${marker}`, Email: `john.${marker}@example.org` },
  ]);
  assert(rs.every((r) => r.success), JSON.stringify(rs));
});

await step('SOSL search (conn.search)', async () => {
  const r = await conn.search(
    `FIND {jane.${marker}@example.com} IN EMAIL FIELDS RETURNING Contact(Id, Email, LastName)`
  );
  assert(r.searchRecords.length === 1, JSON.stringify(r));
  assert(r.searchRecords[0].attributes.type === 'Contact', JSON.stringify(r));
  assert(r.searchRecords[0].LastName === `Doe${marker}`, JSON.stringify(r));
});

await step('parameterized search by phone', async () => {
  const r = await conn.request(
    `/parameterizedSearch?q=4155550100&in=PHONE&sobject=Contact&Contact.fields=Id,LastName`
  );
  assert(r.searchRecords.some((x) => x.LastName === `Doe${marker}`), JSON.stringify(r));
});

await step('sObject Tree: an Account with its Contacts', async () => {
  const r = await conn.requestPost(`/composite/tree/Account`, {
    records: [
      {
        attributes: { type: 'Account', referenceId: 'acc' },
        Name: `Tree ${marker}`,
        Contacts: { records: [{ attributes: { type: 'Contact', referenceId: 'c1' }, LastName: `Child${marker}` }] },
      },
    ],
  });
  assert(r.hasErrors === false && r.results.length === 2, JSON.stringify(r));
  const q = await conn.query(`SELECT Account.Name FROM Contact WHERE LastName = 'Child${marker}'`);
  assert(q.records[0].Account.Name === `Tree ${marker}`, JSON.stringify(q));
});

await step('Composite Batch and Composite Graph', async () => {
  const b = await conn.requestPost('/composite/batch', {
    batchRequests: [
      { method: 'GET', url: `v${VERSION}/limits` },
      { method: 'GET', url: `v${VERSION}/sobjects/Account/001000000000000AAA` },
    ],
  });
  assert(b.hasErrors === true && b.results[0].statusCode === 200 && b.results[1].statusCode === 404, JSON.stringify(b));
  const g = await conn.requestPost('/composite/graph', {
    graphs: [
      {
        graphId: 'g1',
        compositeRequest: [
          { method: 'POST', url: `/services/data/v${VERSION}/sobjects/Account`, referenceId: 'a', body: { Name: `Graph ${marker}` } },
        ],
      },
    ],
  });
  assert(g.graphs[0].isSuccessful === true, JSON.stringify(g));
});

await step('query?columns=true (column metadata)', async () => {
  const soql = encodeURIComponent('SELECT Name, (SELECT LastName FROM Contacts) FROM Account');
  const r = await conn.request(`/query?q=${soql}&columns=true`);
  assert(r.entityName === 'Account', JSON.stringify(r));
  assert(r.columnMetadata[1].aggregate === true && r.columnMetadata[1].columnName === 'Contacts', JSON.stringify(r));
});

await step('list views and their results', async () => {
  const lv = await conn.sobject('Account').listviews();
  const all = lv.listviews.find((v) => v.developerName === 'AllAccounts');
  assert(all, JSON.stringify(lv));
  const res = await conn.sobject('Account').listview(all.id).results();
  assert(res.records.length >= 1 && res.columns[0].fieldNameOrPath === 'Name', JSON.stringify(res));
});

await step('Tooling API describe', async () => {
  const g = await conn.tooling.describeGlobal();
  assert(g.sobjects.some((o) => o.name === 'CustomField'), JSON.stringify(g));
  const d = await conn.tooling.describe('CustomField');
  assert(d.fields.some((f) => f.name === 'DeveloperName'), JSON.stringify(d));
});

await step('Bulk API 2.0: ingest, then query (Sforce-Locator, CSV)', async () => {
  const records = Array.from({ length: 50 }, (_, i) => ({ Name: `Bulk ${marker} ${i}` }));
  const res = await conn.bulk2.loadAndWaitForResults({
    object: 'Account',
    operation: 'insert',
    input: records,
    pollInterval: 200,
    pollTimeout: 60000,
  });
  assert(res.successfulResults.length === 50 && res.failedResults.length === 0, JSON.stringify(res.failedResults));
  const rows = await (await conn.bulk2.query(`SELECT Name FROM Account WHERE Name LIKE 'Bulk ${marker}%'`, {
    pollInterval: 200,
    pollTimeout: 60000,
  })).toArray();
  assert(rows.length === 50, `bulk query rows: ${rows.length}`);
});

await step('Metadata API: describe, list, retrieve', async () => {
  const d = await conn.metadata.describe(VERSION);
  const types = (Array.isArray(d.metadataObjects) ? d.metadataObjects : [d.metadataObjects]).map((o) => o.xmlName);
  assert(types.includes('CustomObject'), JSON.stringify(d));
  await conn.metadata.list([{ type: 'CustomObject' }], VERSION);
  const r = await conn.metadata
    .retrieve({ apiVersion: VERSION, unpackaged: { types: [{ name: 'CustomObject', members: ['*'] }], version: VERSION } })
    .complete();
  assert(r.zipFile && r.zipFile.length > 0, JSON.stringify(r).slice(0, 500));
});

await step("Chatter: a batch of feed items", async () => {
  const q = await conn.query(`SELECT Id FROM Account WHERE Name = 'Tree ${marker}'`);
  const subjectId = q.records[0].Id;
  const body = (text) => ({ body: { messageSegments: [{ type: 'Text', text }] }, feedElementType: 'FeedItem', subjectId });
  const r = await conn.chatter
    .resource('/feed-elements/batch')
    .create({ inputs: [{ richInput: body('one') }, { richInput: body('two') }] });
  assert(r.hasErrors === false && r.results.length === 2 && r.results[1].statusCode === 201, JSON.stringify(r));
});

const others = Array.isArray(info.orgs) ? info.orgs.slice(1) : [];
if (others.length > 0) {
  await step('a second org signs in at the same login URL and sees only its own records', async () => {
    const second = others[0];
    const c2 = await login(info.login_url, second.username);
    assert(c2.instanceUrl === second.instance_url, `${c2.instanceUrl} != ${second.instance_url}`);
    await c2.sobject('Account').create({ Name: `Second ${marker}` });
    const mine = await c2.query(`SELECT Name FROM Account`);
    assert(mine.records.every((r) => r.Name === `Second ${marker}`), JSON.stringify(mine));
    const first = await conn.query(`SELECT Id FROM Account WHERE Name = 'Second ${marker}'`);
    assert(first.totalSize === 0, 'the first org sees the second org\'s record');
  });
}

const total = passed + failures;
console.log(`${failures === 0 ? 'PASS' : 'FAIL'}: ${passed}/${total} steps passed`);
process.exit(failures === 0 ? 0 : 1);
