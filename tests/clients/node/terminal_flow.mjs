// A server-driven Stripe Terminal flow, run with the official `stripe` Node library against a
// Stripe-compatible base URL (the countertop emulator), with assertions on every answer and on
// every webhook delivered.
//
//   node terminal_flow.mjs http://127.0.0.1:12199
//
// The flow runs twice: with the library's pinned API version and with 2023-10-16. Webhooks: the
// script listens on WEBHOOK_PORT (default 12198) and checks every event posted to /hook with
// WEBHOOK_SECRET (default whsec_test123), as `countertop emulator --webhook
// http://127.0.0.1:12198/hook --webhook-secret whsec_test123` sends them; it also registers a
// webhook endpoint through the API, on the same server, and checks those deliveries with the
// secret the API returned. The first failed assertion ends the run with a non-zero exit code.

import assert from 'node:assert/strict';
import http from 'node:http';
import Stripe from 'stripe';

const BASE = new URL(process.argv[2] || 'http://127.0.0.1:12111');
const WEBHOOK_PORT = Number(process.env.WEBHOOK_PORT || 12198);
const WEBHOOK_SECRET = process.env.WEBHOOK_SECRET || 'whsec_test123';
const KEY = 'sk_test_123';
const PINNED = Stripe.API_VERSION;
const OLD_VERSION = '2023-10-16';

function client(options = {}) {
  return new Stripe(options.key || KEY, {
    host: BASE.hostname,
    port: Number(BASE.port || (BASE.protocol === 'https:' ? 443 : 80)),
    protocol: BASE.protocol.replace(':', ''),
    maxNetworkRetries: 0,
    ...(options.apiVersion ? {apiVersion: options.apiVersion} : {}),
    ...(options.stripeAccount ? {stripeAccount: options.stripeAccount} : {}),
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const idLike = (value, prefix) =>
  assert.match(String(value), new RegExp(`^${prefix}[A-Za-z0-9_]+$`), `${value} is not a ${prefix} id`);
const step = (name) => console.log(`- ${name}`);

// Emulator-only controls (ignored elsewhere): wait until every webhook is delivered.
async function flushWebhooks() {
  try {
    const res = await fetch(new URL('/_emulator/webhooks/flush', BASE), {
      method: 'POST',
      headers: {'content-type': 'application/json'},
      body: JSON.stringify({timeout: 10}),
    });
    if (res.ok) return;
  } catch {
    // not the emulator
  }
  await sleep(3000);
}

// ---------------------------------------------------------------------------------------------
// Webhook receiver
// ---------------------------------------------------------------------------------------------
const verifier = new Stripe(KEY);
const endpointSecrets = new Map(); // path -> secret
const received = []; // {path, event}
const listedEventIds = []; // every event the runs listed through the API

function assertEventShape(event, where) {
  idLike(event.id, 'evt_');
  assert.equal(event.object, 'event', where);
  assert.equal(typeof event.api_version, 'string', `${where}: api_version`);
  assert.equal(typeof event.created, 'number', `${where}: created`);
  assert.equal(typeof event.type, 'string', `${where}: type`);
  assert.ok(event.data && typeof event.data.object === 'object', `${where}: data.object`);
  assert.equal(typeof event.data.object.object, 'string', `${where}: data.object.object`);
  assert.equal(event.livemode, false, `${where}: livemode`);
  assert.equal(typeof event.pending_webhooks, 'number', `${where}: pending_webhooks`);
  assert.ok(event.request && 'id' in event.request && 'idempotency_key' in event.request, `${where}: request`);
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    const raw = Buffer.concat(chunks);
    const secret = req.url === '/hook' ? WEBHOOK_SECRET : endpointSecrets.get(req.url);
    if (!secret) {
      res.writeHead(404).end(); // an endpoint left over from an earlier run
      return;
    }
    try {
      assert.equal(req.method, 'POST');
      assert.match(req.headers['content-type'] || '', /^application\/json/);
      const event = verifier.webhooks.constructEvent(raw, req.headers['stripe-signature'], secret);
      assertEventShape(event, `webhook ${req.url}`);
      received.push({path: req.url, event});
      res.writeHead(200).end();
    } catch (error) {
      console.error(`webhook check failed: ${error.message}`);
      res.writeHead(400).end();
      process.exitCode = 1;
      process.exit(1);
    }
  });
});
await new Promise((resolve) => server.listen(WEBHOOK_PORT, '127.0.0.1', resolve));

// ---------------------------------------------------------------------------------------------
// The flow, for one API version
// ---------------------------------------------------------------------------------------------
async function flow(apiVersion) {
  const stripe = client({apiVersion});
  const version = apiVersion || PINNED;
  const endive = version >= '2026-09-30';
  console.log(`\n== API version ${version}${apiVersion ? '' : ' (the library default)'}`);
  const typesParam = (types) =>
    endive ? {allowed_payment_method_types: types} : {payment_method_types: types};
  const marker = (await stripe.events.list({limit: 1})).data[0]?.id;
  const since = marker ? {ending_before: marker} : {};

  step('webhook endpoint create/list');
  const hookPath = `/endpoint/${version}/${Math.random().toString(36).slice(2)}`;
  const endpoint = await stripe.webhookEndpoints.create({
    url: `http://127.0.0.1:${WEBHOOK_PORT}${hookPath}`,
    enabled_events: ['*'],
    description: 'node check',
  });
  idLike(endpoint.id, 'we_');
  assert.equal(endpoint.object, 'webhook_endpoint');
  assert.match(endpoint.secret, /^whsec_/);
  assert.equal(endpoint.status, 'enabled');
  assert.deepEqual(endpoint.enabled_events, ['*']);
  endpointSecrets.set(hookPath, endpoint.secret);
  const endpoints = await stripe.webhookEndpoints.list({limit: 100});
  assert.equal(endpoints.object, 'list');
  const listed = endpoints.data.find((item) => item.id === endpoint.id);
  assert.ok(listed, 'endpoint listed');
  assert.equal(listed.secret, undefined, 'the secret is only shown at creation');

  step('lastResponse');
  const loc = await stripe.terminal.locations.create({
    display_name: 'Corner Shop',
    address: {line1: '1 Market St', city: 'San Francisco', state: 'CA', postal_code: '94105', country: 'US'},
    metadata: {store: '7'},
  });
  idLike(loc.lastResponse.requestId, 'req_');
  assert.equal(loc.lastResponse.statusCode, 200);
  assert.equal(loc.lastResponse.apiVersion, version, 'Stripe-Version answered');
  assert.match(loc.lastResponse.idempotencyKey, /^stripe-node-retry-/, 'Idempotency-Key answered');
  assert.equal(loc.lastResponse.headers['original-request'], loc.lastResponse.requestId);
  assert.equal(loc.lastResponse.headers['idempotent-replayed'], undefined);

  step('locations create/retrieve/update/list/del');
  idLike(loc.id, 'tml_');
  assert.equal(loc.object, 'terminal.location');
  assert.equal(loc.display_name, 'Corner Shop');
  assert.equal(loc.address.country, 'US');
  assert.equal(loc.address.line2, null);
  assert.deepEqual(loc.metadata, {store: '7'});
  assert.equal(loc.livemode, false);
  const gotLoc = await stripe.terminal.locations.retrieve(loc.id);
  assert.equal(gotLoc.id, loc.id);
  const updLoc = await stripe.terminal.locations.update(loc.id, {display_name: 'Corner Shop 2', metadata: {store: ''}});
  assert.equal(updLoc.display_name, 'Corner Shop 2');
  assert.deepEqual(updLoc.metadata, {});
  const spare = await stripe.terminal.locations.create({display_name: 'Spare', address: {country: 'US', line1: '2 Pier'}});
  const locs = await stripe.terminal.locations.list({limit: 2});
  assert.equal(locs.object, 'list');
  assert.equal(locs.url, '/v1/terminal/locations');
  assert.equal(locs.data[0].id, spare.id, 'newest first');
  const delLoc = await stripe.terminal.locations.del(spare.id);
  assert.deepEqual({...delLoc}, {id: spare.id, object: 'terminal.location', deleted: true});
  await assert.rejects(stripe.terminal.locations.retrieve(spare.id), {
    type: 'StripeInvalidRequestError', statusCode: 404, code: 'resource_missing',
  });

  step('readers create/list/retrieve/update/del');
  const wpe = await stripe.terminal.readers.create({registration_code: 'simulated-wpe', label: 'Front', location: loc.id});
  idLike(wpe.id, 'tmr_');
  assert.equal(wpe.object, 'terminal.reader');
  assert.equal(wpe.device_type, 'simulated_wisepos_e');
  assert.equal(wpe.label, 'Front');
  assert.equal(wpe.location, loc.id);
  assert.equal(wpe.status, 'online');
  assert.equal(wpe.action, null);
  assert.equal(wpe.livemode, false);
  assert.equal(typeof wpe.serial_number, 'string');
  assert.equal(typeof wpe.device_sw_version, 'string');
  const s700 = await stripe.terminal.readers.create({registration_code: 'simulated-s700', label: 'Back', location: loc.id});
  assert.equal(s700.device_type, 'simulated_stripe_s700');
  await assert.rejects(stripe.terminal.readers.create({registration_code: 'no-such-code'}), {
    type: 'StripeInvalidRequestError', statusCode: 400, param: 'registration_code',
  });
  const byType = await stripe.terminal.readers.list({device_type: 'simulated_stripe_s700', location: loc.id});
  assert.deepEqual(byType.data.map((r) => r.id), [s700.id]);
  const online = await stripe.terminal.readers.list({location: loc.id, status: 'online', limit: 1});
  assert.equal(online.data.length, 1);
  assert.equal(online.has_more, true);
  const bySerial = await stripe.terminal.readers.list({serial_number: wpe.serial_number});
  assert.deepEqual(bySerial.data.map((r) => r.id), [wpe.id]);
  const seen = [];
  await stripe.terminal.readers.list({location: loc.id, limit: 1}).autoPagingEach((reader) => {
    seen.push(reader.id);
  });
  assert.deepEqual(seen, [s700.id, wpe.id], 'autoPagingEach walks every page, newest first');
  const all = await stripe.terminal.readers.list({location: loc.id, limit: 1}).autoPagingToArray({limit: 10});
  assert.deepEqual(all.map((r) => r.id), [s700.id, wpe.id]);
  const gotReader = await stripe.terminal.readers.retrieve(wpe.id, {expand: ['location']});
  assert.equal(gotReader.location.id, loc.id, 'expand location');
  const relabeled = await stripe.terminal.readers.update(s700.id, {label: 'Back 2', metadata: {lane: '2'}});
  assert.equal(relabeled.label, 'Back 2');
  assert.deepEqual(relabeled.metadata, {lane: '2'});
  const gone = await stripe.terminal.readers.del(s700.id);
  assert.equal(gone.id, s700.id);
  assert.equal(gone.object, 'terminal.reader');
  assert.equal(gone.deleted, true);
  assert.equal(gone.device_type, 'simulated_stripe_s700');
  assert.equal(gone.serial_number, s700.serial_number);

  step('paymentIntents.create');
  if (endive) {
    await assert.rejects(
      stripe.paymentIntents.create({amount: 1000, currency: 'usd', payment_method_types: ['card_present']}),
      {type: 'StripeInvalidRequestError', statusCode: 400, code: 'payment_method_types_no_longer_supported'},
    );
  }
  const newIntent = (amount, extra = {}) =>
    stripe.paymentIntents.create({
      amount, currency: 'usd', ...typesParam(['card_present']), capture_method: 'manual',
      metadata: {order: `o-${amount}`}, ...extra,
    });
  const pi = await newIntent(2500);
  idLike(pi.id, 'pi_');
  assert.equal(pi.object, 'payment_intent');
  assert.equal(pi.status, 'requires_payment_method');
  assert.equal(pi.capture_method, 'manual');
  assert.deepEqual(pi.payment_method_types, ['card_present']);
  assert.deepEqual(pi.metadata, {order: 'o-2500'});
  assert.equal(pi.latest_charge, null);
  assert.equal(pi.charges, undefined, 'no charges list since 2022-11-15');
  assert.match(pi.client_secret, new RegExp(`^${pi.id}_secret_`));

  step('setReaderDisplay');
  const displayed = await stripe.terminal.readers.setReaderDisplay(wpe.id, {
    type: 'cart',
    cart: {currency: 'usd', line_items: [{amount: 2500, description: 'Coffee', quantity: 1}], tax: 0, total: 2500},
  });
  assert.equal(displayed.action.type, 'set_reader_display');
  assert.equal(displayed.action.set_reader_display.cart.line_items[0].description, 'Coffee');

  step('processPaymentIntent + presentPaymentMethod');
  const processing = await stripe.terminal.readers.processPaymentIntent(wpe.id, {payment_intent: pi.id});
  assert.equal(processing.action.type, 'process_payment_intent');
  assert.equal(processing.action.status, 'in_progress');
  assert.equal(processing.action.process_payment_intent.payment_intent, pi.id);
  assert.equal(processing.action.failure_code, null);
  await assert.rejects(stripe.terminal.readers.processPaymentIntent(wpe.id, {payment_intent: 'pi_missing'}), {
    statusCode: 404, code: 'resource_missing',
  });
  const presented = await stripe.testHelpers.terminal.readers.presentPaymentMethod(wpe.id);
  assert.equal(presented.action.status, 'succeeded');
  const expanded = await stripe.paymentIntents.retrieve(pi.id, {expand: ['latest_charge']});
  assert.equal(expanded.status, 'requires_capture');
  assert.equal(expanded.amount_capturable, 2500);
  const charge = expanded.latest_charge;
  idLike(charge.id, 'ch_');
  assert.equal(charge.object, 'charge');
  assert.equal(charge.captured, false);
  assert.equal(charge.paid, true);
  assert.equal(charge.status, 'succeeded');
  assert.equal(charge.refunds, undefined, 'refunds are not included unless expanded (2022-11-15)');
  assert.equal(charge.payment_method_details.type, 'card_present');
  assert.equal(charge.payment_method_details.card_present.last4, '4242');
  assert.equal(typeof charge.payment_method_details.card_present.capture_before, 'number');
  idLike(expanded.payment_method, 'pm_');

  step('capture with amount_to_capture');
  const captured = await stripe.paymentIntents.capture(pi.id, {amount_to_capture: 2000});
  assert.equal(captured.status, 'succeeded');
  assert.equal(captured.amount_received, 2000);
  const capturedCharge = await stripe.charges.retrieve(charge.id, {expand: ['refunds']});
  assert.equal(capturedCharge.amount_captured, 2000);
  assert.equal(capturedCharge.refunds.object, 'list', 'refunds expand');
  await assert.rejects(stripe.paymentIntents.capture(pi.id), {
    type: 'StripeInvalidRequestError', statusCode: 400, code: 'payment_intent_unexpected_state',
  });

  step('refunds.create and list');
  const refund = await stripe.refunds.create({payment_intent: pi.id, amount: 500, reason: 'requested_by_customer'});
  idLike(refund.id, 're_');
  assert.equal(refund.object, 'refund');
  assert.equal(refund.status, 'succeeded');
  assert.equal(refund.amount, 500);
  assert.equal(refund.charge, charge.id);
  await assert.rejects(stripe.refunds.create({payment_intent: pi.id, amount: 999999}), {
    statusCode: 400, code: 'amount_too_large',
  });
  const refunds = await stripe.refunds.list({payment_intent: pi.id});
  assert.deepEqual(refunds.data.map((r) => r.id), [refund.id]);
  const refundedCharge = await stripe.charges.retrieve(charge.id);
  assert.equal(refundedCharge.amount_refunded, 1000, 'the 500 left uncaptured plus the 500 refunded');
  assert.equal(refundedCharge.refunded, false);
  assert.equal(refundedCharge.refunds, undefined);

  step('a declined card (4000000000000002), then a retry on the same PaymentIntent');
  const declinedPi = await newIntent(1500);
  await stripe.terminal.readers.processPaymentIntent(wpe.id, {payment_intent: declinedPi.id});
  const declined = await stripe.testHelpers.terminal.readers.presentPaymentMethod(wpe.id, {
    type: 'card_present', card_present: {number: '4000000000000002'},
  });
  assert.equal(declined.action.status, 'failed');
  assert.equal(declined.action.failure_code, 'card_declined');
  assert.equal(typeof declined.action.failure_message, 'string');
  const afterDecline = await stripe.paymentIntents.retrieve(declinedPi.id, {expand: ['latest_charge']});
  assert.equal(afterDecline.status, 'requires_payment_method');
  assert.equal(afterDecline.last_payment_error.type, 'card_error');
  assert.equal(afterDecline.last_payment_error.code, 'card_declined');
  assert.equal(afterDecline.latest_charge.status, 'failed');
  await stripe.terminal.readers.processPaymentIntent(wpe.id, {payment_intent: declinedPi.id});
  await stripe.testHelpers.terminal.readers.presentPaymentMethod(wpe.id, {
    card_present: {number: '5555555555554444'}, type: 'card_present',
  });
  const retried = await stripe.paymentIntents.retrieve(declinedPi.id);
  assert.equal(retried.status, 'requires_capture');
  assert.equal(retried.last_payment_error, null);

  step('cancelAction, then cancel the PaymentIntent');
  const toCancel = await newIntent(1200);
  await stripe.terminal.readers.processPaymentIntent(wpe.id, {payment_intent: toCancel.id});
  const canceledAction = await stripe.terminal.readers.cancelAction(wpe.id);
  assert.equal(canceledAction.action, null);
  const canceled = await stripe.paymentIntents.cancel(toCancel.id, {cancellation_reason: 'abandoned'});
  assert.equal(canceled.status, 'canceled');
  assert.equal(canceled.cancellation_reason, 'abandoned');
  assert.equal(typeof canceled.canceled_at, 'number');
  const voided = await stripe.paymentIntents.cancel(declinedPi.id);
  assert.equal(voided.status, 'canceled');

  step('refundPayment reader action');
  const auto = await stripe.paymentIntents.create({amount: 3000, currency: 'usd', ...typesParam(['card_present'])});
  assert.equal(auto.capture_method, 'automatic');
  await stripe.terminal.readers.processPaymentIntent(wpe.id, {payment_intent: auto.id});
  await stripe.testHelpers.terminal.readers.presentPaymentMethod(wpe.id);
  const paid = await stripe.paymentIntents.retrieve(auto.id);
  assert.equal(paid.status, 'succeeded');
  const refunding = await stripe.terminal.readers.refundPayment(wpe.id, {payment_intent: auto.id, amount: 1000});
  assert.equal(refunding.action.type, 'refund_payment');
  assert.equal(refunding.action.status, 'in_progress');
  const refundedOnReader = await stripe.testHelpers.terminal.readers.presentPaymentMethod(wpe.id);
  assert.equal(refundedOnReader.action.status, 'succeeded');
  idLike(refundedOnReader.action.refund_payment.refund, 're_');
  const readerRefunds = await stripe.refunds.list({payment_intent: auto.id});
  assert.equal(readerRefunds.data.length, 1);
  assert.equal(readerRefunds.data[0].amount, 1000);

  step('lists with expand, charges.list, card-not-present confirm');
  const intents = await stripe.paymentIntents.list({limit: 3, expand: ['data.latest_charge']});
  assert.equal(intents.data[0].object, 'payment_intent');
  const withCharge = intents.data.find((item) => item.latest_charge);
  assert.equal(withCharge.latest_charge.object, 'charge');
  assert.equal(withCharge.latest_charge.refunds, undefined);
  const charges = await stripe.charges.list({payment_intent: auto.id});
  assert.equal(charges.data.length, 1);
  assert.equal(charges.data[0].amount_refunded, 1000);
  const onlinePi = await stripe.paymentIntents.create({
    amount: 1999, currency: 'usd', ...typesParam(['card']), payment_method: 'pm_card_visa', confirm: true,
  });
  assert.equal(onlinePi.status, 'succeeded');
  const toConfirm = await stripe.paymentIntents.create({amount: 2999, currency: 'usd', ...typesParam(['card_present'])});
  const confirmed = await stripe.paymentIntents.confirm(toConfirm.id, {
    ...typesParam(['card']), payment_method: 'pm_card_mastercard',
  });
  assert.equal(confirmed.status, 'succeeded');
  assert.deepEqual(confirmed.payment_method_types, ['card']);
  await assert.rejects(
    stripe.paymentIntents.create({
      amount: 1999, currency: 'usd', ...typesParam(['card']), payment_method: 'pm_card_chargeDeclined', confirm: true,
    }),
    (error) => {
      assert.ok(error instanceof Stripe.errors.StripeCardError, error.type);
      assert.equal(error.statusCode, 402);
      assert.equal(error.code, 'card_declined');
      assert.equal(error.decline_code, 'generic_decline');
      assert.equal(error.payment_intent.status, 'requires_payment_method');
      return true;
    },
  );

  step('idempotency');
  const idem = `node-check-${version}-${Date.now()}`;
  const first = await stripe.paymentIntents.create(
    {amount: 4100, currency: 'usd', ...typesParam(['card_present'])}, {idempotencyKey: idem});
  const second = await stripe.paymentIntents.create(
    {amount: 4100, currency: 'usd', ...typesParam(['card_present'])}, {idempotencyKey: idem});
  assert.equal(second.id, first.id);
  assert.equal(second.lastResponse.headers['idempotent-replayed'], 'true');
  assert.equal(second.lastResponse.headers['original-request'], first.lastResponse.requestId);
  assert.equal(second.lastResponse.idempotencyKey, idem);
  assert.notEqual(second.lastResponse.requestId, first.lastResponse.requestId);
  await assert.rejects(
    stripe.paymentIntents.create({amount: 4200, currency: 'usd', ...typesParam(['card_present'])}, {idempotencyKey: idem}),
    (error) => {
      assert.ok(error instanceof Stripe.errors.StripeIdempotencyError, error.type);
      assert.equal(error.type, 'StripeIdempotencyError');
      assert.equal(error.statusCode, 400);
      return true;
    },
  );

  step('errors');
  await assert.rejects(stripe.paymentIntents.retrieve('pi_doesnotexist'), (error) => {
    assert.ok(error instanceof Stripe.errors.StripeInvalidRequestError);
    assert.equal(error.statusCode, 404);
    assert.equal(error.code, 'resource_missing');
    assert.equal(error.rawType, 'invalid_request_error');
    idLike(error.requestId, 'req_');
    assert.match(error.message, /No such payment_intent: 'pi_doesnotexist'/);
    assert.match(error.doc_url, /^https:\/\/(docs\.)?stripe\.com\/(docs\/)?error-codes\/resource-missing$/);
    return true;
  });
  await assert.rejects(client({key: 'sk_test_', apiVersion}).terminal.readers.list(), (error) => {
    assert.ok(error instanceof Stripe.errors.StripeAuthenticationError, error.type);
    assert.equal(error.statusCode, 401);
    return true;
  });
  await assert.rejects(client({key: 'pk_test_123', apiVersion}).terminal.readers.list(), {
    type: 'StripeAuthenticationError', statusCode: 401,
  });
  await assert.rejects(stripe.terminal.readers.create({registration_code: 'simulated-wpe', colour: 'red'}), {
    type: 'StripeInvalidRequestError', statusCode: 400, code: 'parameter_unknown', param: 'colour',
  });
  await assert.rejects(stripe.paymentIntents.create({currency: 'usd'}), {
    statusCode: 400, code: 'parameter_missing', param: 'amount',
  });

  step('events list/retrieve');
  const events = await stripe.events.list({limit: 100, ...since});
  assert.equal(events.object, 'list');
  assert.equal(events.url, '/v1/events');
  assert.ok(events.data.length > 20 && events.data.length < 100, `${events.data.length} events`);
  for (const event of events.data) {
    assertEventShape(event, `events.list ${event.type}`);
    // Stripe renders an event at the account's API version; the emulator takes the request's.
    assert.match(event.api_version, /^\d{4}-\d{2}-\d{2}(\.[a-z]+)?$/);
  }
  listedEventIds.push(...events.data.map((event) => event.id));
  const types = events.data.map((event) => event.type);
  for (const type of [
    'payment_intent.created', 'payment_intent.amount_capturable_updated', 'payment_intent.succeeded',
    'payment_intent.canceled', 'payment_intent.payment_failed', 'charge.succeeded', 'charge.captured',
    'charge.failed', 'charge.refunded', 'refund.created', 'terminal.reader.action_succeeded',
    'terminal.reader.action_failed',
  ]) {
    assert.ok(types.includes(type), `event ${type} listed`);
  }
  const created = events.data.find((event) => event.type === 'payment_intent.created' && event.data.object.id === pi.id);
  assert.ok(created);
  idLike(created.request.id, 'req_');
  assert.match(created.request.idempotency_key, /^stripe-node-retry-/);
  const one = await stripe.events.retrieve(created.id);
  assert.equal(one.id, created.id);
  assert.equal(one.data.object.id, pi.id);
  const succeededOnly = await stripe.events.list({type: 'terminal.reader.*', limit: 100, ...since});
  assert.ok(succeededOnly.data.length > 0);
  assert.ok(succeededOnly.data.every((event) => event.type.startsWith('terminal.reader.')));
  for (const event of succeededOnly.data) {
    assert.equal(event.data.object.object, 'terminal.reader');
  }
  const charged = events.data.find((event) => event.type === 'charge.succeeded');
  assert.equal(charged.data.object.refunds, undefined, 'event data has no refunds list either');

  step('webhooks delivered and verified');
  await flushWebhooks();
  const delivered = received.filter((item) => item.path === hookPath).map((item) => item.event);
  const deliveredIds = new Set(delivered.map((event) => event.id));
  for (const event of events.data) {
    assert.ok(deliveredIds.has(event.id), `${event.type} ${event.id} delivered to the endpoint`);
  }
  await stripe.webhookEndpoints.del(endpoint.id);
  endpointSecrets.delete(hookPath);

  return {stripe, wpe, loc};
}

// ---------------------------------------------------------------------------------------------
// Connected accounts
// ---------------------------------------------------------------------------------------------
async function connected() {
  console.log('\n== Stripe-Account');
  const platform = client();
  const account = 'acct_1NodeCheck' + Date.now();
  const connectedClient = client({stripeAccount: account});
  const loc = await connectedClient.terminal.locations.create({display_name: 'Connected', address: {country: 'US'}});
  assert.equal(loc.lastResponse.stripeAccount, account, 'Stripe-Account answered');
  await assert.rejects(platform.terminal.locations.retrieve(loc.id), {statusCode: 404, code: 'resource_missing'});
  const perRequest = await platform.terminal.locations.retrieve(loc.id, {}, {stripeAccount: account});
  assert.equal(perRequest.id, loc.id);
  const reader = await connectedClient.terminal.readers.create({registration_code: 'simulated-wpe', location: loc.id});
  const pi = await connectedClient.paymentIntents.create({amount: 1000, currency: 'usd', allowed_payment_method_types: ['card_present']});
  await connectedClient.terminal.readers.processPaymentIntent(reader.id, {payment_intent: pi.id});
  await connectedClient.testHelpers.terminal.readers.presentPaymentMethod(reader.id);
  const events = await connectedClient.events.list({type: 'payment_intent.succeeded'});
  assert.equal(events.data[0].account, account);
  assert.equal(events.data[0].data.object.id, pi.id);
}

try {
  await flow(undefined);
  await flow(OLD_VERSION);
  await connected();
  await flushWebhooks();
  const hooked = received.filter((item) => item.path === '/hook');
  if (hooked.length === 0) {
    console.log(`\n(no deliveries to /hook: start the emulator with --webhook http://127.0.0.1:${WEBHOOK_PORT}/hook)`);
  } else {
    const hookedIds = new Set(hooked.map((item) => item.event.id));
    for (const id of listedEventIds) assert.ok(hookedIds.has(id), `${id} delivered to /hook`);
    console.log(`\n${hooked.length} deliveries to /hook verified with ${WEBHOOK_SECRET}`);
  }
  console.log(`\nstripe ${Stripe.PACKAGE_VERSION}, pinned API version ${PINNED}: all checks passed`);
} catch (error) {
  console.error(error);
  process.exitCode = 1;
} finally {
  server.close();
  server.closeAllConnections?.();
}
