// jsforce 3's Streaming API client (Faye underneath), unmodified, against the forcebridge emulator:
// a PushTopic subscription that sees a record created through jsforce itself, the same topic
// replayed from -2 by a client with the replay extension, and /data/ChangeEvents replayed from -2.
// Usage: node jsforce_streaming.cjs INSTANCE_URL ACCESS_TOKEN   (trust the CA via NODE_EXTRA_CA_CERTS)
'use strict';
const jsforce = require('jsforce');
// The documented way to reach the replay extension in jsforce 3.
const { StreamingExtension } = require('jsforce/api/streaming');

const [instanceUrl, accessToken] = process.argv.slice(2);
const conn = new jsforce.Connection({ instanceUrl, accessToken, version: '66.0' });

function fail(why) {
  console.error(`FAIL: ${why}`);
  process.exit(1);
}

function once(subscribeTo) {
  return new Promise((resolve) => subscribeTo(resolve));
}

async function main() {
  const step = (s) => console.log(`step: ${s}`);

  step('subscribe to /topic/BankAccounts (new events only)');
  const live = once((resolve) => {
    const sub = conn.streaming.topic('BankAccounts').subscribe((message) => resolve(message));
    sub.then(async () => {
      step('subscribed; create an Account through jsforce');
      const made = await conn.sobject('Account').create({ Name: 'Faye Bank', Industry: 'Banking' });
      if (!made.success) fail(`create failed: ${JSON.stringify(made)}`);
    }, (e) => fail(`subscribe failed: ${e && e.message}`));
  });
  const pushed = await live;
  console.log(JSON.stringify({ channel: '/topic/BankAccounts', message: pushed }));
  if (pushed.event.type !== 'created') fail(`event.type ${pushed.event.type}`);
  if (pushed.sobject.Name !== 'Faye Bank') fail(`sobject ${JSON.stringify(pushed.sobject)}`);
  if (typeof pushed.event.replayId !== 'number') fail('no numeric replayId');

  step('replay /topic/BankAccounts from -2 with the replay extension');
  const replayTopic = '/topic/BankAccounts';
  const replayClient = conn.streaming.createClient([
    new StreamingExtension.Replay(replayTopic, -2),
  ]);
  const replayed = await once((resolve) => replayClient.subscribe(replayTopic, resolve));
  console.log(JSON.stringify({ channel: replayTopic, message: replayed }));
  if (replayed.event.replayId !== pushed.event.replayId) fail('replay did not start at the first retained event');

  step('replay /data/ChangeEvents from -2');
  const cdc = '/data/ChangeEvents';
  const cdcClient = conn.streaming.createClient([new StreamingExtension.Replay(cdc, -2)]);
  const change = await once((resolve) => cdcClient.subscribe(cdc, resolve));
  console.log(JSON.stringify({ channel: cdc, message: change }));
  const header = change.payload && change.payload.ChangeEventHeader;
  if (!header || header.changeType !== 'CREATE' || header.entityName !== 'Account') {
    fail(`change event ${JSON.stringify(change)}`);
  }
  if (!header.changedFields.includes('Name')) fail('changedFields lacks Name');
  console.log('OK');
  process.exit(0);
}

main().catch((e) => fail(e && e.stack ? e.stack : String(e)));
