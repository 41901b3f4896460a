// The live stream (GET /api/v1/stream). EventSource cannot send an Authorization
// header, so this reads the Server-Sent Events from fetch() with a stream reader, and
// reconnects with Last-Event-ID after the last event it saw (docs/delivery.md).

import { authFetch, signedIn } from './api.js';

/** Splits an SSE text buffer into complete events; returns [events, rest]. */
export function parseEvents(buffer) {
  const events = [];
  const blocks = buffer.split(/\r\n\r\n|\n\n|\r\r/);
  const rest = blocks.pop();
  for (const block of blocks) {
    const ev = { id: null, type: 'message', data: [] };
    for (const line of block.split(/\r\n|\n|\r/)) {
      if (line === '' || line.startsWith(':')) continue; // heartbeat comment
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'id') ev.id = value;
      else if (field === 'event') ev.type = value;
      else if (field === 'data') ev.data.push(value);
    }
    if (ev.data.length || ev.id) events.push({ id: ev.id, type: ev.type, data: ev.data.join('\n') });
  }
  return [events, rest];
}

/**
 * Opens the stream and keeps it open. `onEvent({id, type, data})` for each event,
 * `onState('live' | 'reconnecting' | 'closed')`. Returns `{ close() }`.
 */
export function openStream(onEvent, onState) {
  let lastId = null;
  let stopped = false;
  let controller = null;
  let delay = 1000;

  async function once() {
    controller = new AbortController();
    const headers = { accept: 'text/event-stream' };
    if (lastId) headers['last-event-id'] = lastId;
    const res = await authFetch('/stream', { headers, signal: controller.signal });
    if (res.status === 400 && lastId) {
      lastId = null; // a position the server no longer accepts: start at the present
      return;
    }
    if (!res.ok || !res.body) throw new Error(String(res.status)); // only to reconnect: never shown
    onState('live');
    delay = 1000;
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      const [events, rest] = parseEvents(buffer);
      buffer = rest;
      for (const ev of events) {
        if (ev.id) lastId = ev.id;
        let data = null;
        try {
          data = JSON.parse(ev.data);
        } catch (_) {
          data = ev.data;
        }
        try {
          onEvent({ id: ev.id, type: ev.type, data });
        } catch (e) {
          console.error(e);
        }
      }
    }
  }

  (async () => {
    while (!stopped && signedIn()) {
      try {
        await once();
      } catch (_) {
        // network error, server restart, session check: try again below
      }
      if (stopped || !signedIn()) break;
      onState('reconnecting');
      const wait = delay + Math.random() * 500;
      delay = Math.min(delay * 2, 30000);
      await new Promise((r) => setTimeout(r, wait));
    }
    onState('closed');
  })();

  return {
    close() {
      stopped = true;
      if (controller) controller.abort();
    },
  };
}

const listeners = new Set();

/** Views call this to hear stream events while they are shown; returns the unsubscriber. */
export function onStreamEvent(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** Hands one stream event to every listening view. */
export function dispatch(ev) {
  for (const fn of listeners) fn(ev);
}
