/*
 * shopbot chat widget — embed with one tag:
 *   <script src="https://bot.example/widget.js" data-shopbot-url="https://bot.example"
 *           data-shopbot-identity="(optional signed identity token)"></script>
 *
 * Plain JavaScript, no build step, no dependencies. Wire protocol: docs/web-widget-protocol.md.
 * Security rule of this file: message text reaches the DOM only as text nodes (links are built
 * with createElement for http/https URLs only); innerHTML is never used.
 */
(function () {
  'use strict';

  // Included twice? The first copy owns the page; the second does nothing.
  if (window.ShopbotWidget || document.getElementById('shopbot-widget')) return;

  // document.currentScript is only set while this file runs, so read the tag now.
  var script = document.currentScript;
  var BASE = baseUrl(script);
  var TOKEN_KEY = 'shopbot.token:' + BASE;
  var MAX_CHARS = 2000;
  var HTTP_AFTER_FAILURES = 3;
  var HTTP_TIMEOUT_MS = 15000; // a request that hangs this long counts as failed (and is retried)
  var BACKOFF_MIN_MS = 500;
  var BACKOFF_MAX_MS = 10000;
  var URL_RE = /\bhttps?:\/\/[^\s<>"']+/gi;

  var state = {
    token: loadToken(),
    identity: (script && script.getAttribute('data-shopbot-identity')) || null,
    ws: null,
    wsGen: 0, // increments per socket, so a message is sent once per connection
    welcomed: false, // the current socket has received `welcome`
    loaded: false, // some welcome (socket or HTTP) has rendered the history
    failures: 0, // consecutive socket attempts that never reached `welcome`
    useHttp: false,
    httpOk: null, // did the last HTTP attempt reach the server? null = none since the switch to HTTP
    retryTimer: null,
    started: false,
    pending: [], // {id, text, sentGen, httpBusy} — sent but not answered, oldest first
    byId: {}, // entry id -> message element (dedupes replays, finds feedback buttons)
    lastEntry: null,
    notices: { rate: '', error: '', conn: '' },
    rateTimer: null,
    httpChain: Promise.resolve()
  };

  var ui = {}; // DOM nodes, filled by buildDom()

  /* ------------------------------------------------------------------ setup */

  function baseUrl(tag) {
    var attr = tag && tag.getAttribute('data-shopbot-url');
    var raw = attr || (tag && tag.src) || window.location.href;
    try {
      var u = new URL(raw, window.location.href);
      // An explicit URL may carry a path prefix (bot behind /shopbot); the src only names the origin.
      return attr ? u.href.replace(/\/+$/, '') : u.origin;
    } catch (e) {
      return window.location.origin;
    }
  }

  function loadToken() {
    try {
      return window.localStorage.getItem(TOKEN_KEY);
    } catch (e) {
      return null; // storage disabled: the conversation lasts for this page only
    }
  }

  function saveToken(token) {
    state.token = token;
    try {
      window.localStorage.setItem(TOKEN_KEY, token);
    } catch (e) {
      /* storage disabled or full: keep the token in memory */
    }
  }

  function el(tag, className, attrs) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    Object.keys(attrs || {}).forEach(function (name) {
      node.setAttribute(name, attrs[name]);
    });
    return node;
  }

  // Icons are inline SVG drawn here: emoji fonts are missing on some systems, web fonts are not allowed.
  var ICONS = {
    chat: 'M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z',
    thumb: 'M3 10h3v11H3zM8 10l4-7c1.6 0 2.6 1.2 2.2 3L13.5 10H19c1.4 0 2.3 1.2 2 2.5l-1.6 7c-.2 .9-1 1.5-1.9 1.5H8z'
  };

  function icon(name, flip) {
    var ns = 'http://www.w3.org/2000/svg';
    var svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('focusable', 'false');
    var path = document.createElementNS(ns, 'path');
    path.setAttribute('d', ICONS[name]);
    if (flip) path.setAttribute('transform', 'rotate(180 12 12)'); // thumbs down
    svg.appendChild(path);
    return svg;
  }

  function buildDom() {
    var root = el('div', '', { id: 'shopbot-widget' });
    // Stay invisible until our stylesheet is in, so the page never shows an unstyled panel.
    root.hidden = true;
    var panelId = 'shopbot-panel';

    ui.launcher = el('button', 'shopbot-launcher', {
      type: 'button', 'aria-label': 'Open chat', 'aria-expanded': 'false', 'aria-controls': panelId
    });
    ui.launcher.appendChild(icon('chat'));

    ui.panel = el('div', 'shopbot-panel', { id: panelId, role: 'dialog', 'aria-label': 'Chat with us' });
    ui.panel.hidden = true;

    var header = el('div', 'shopbot-header');
    var title = el('h2', 'shopbot-title');
    title.textContent = 'Chat with us';
    var subtitle = el('p', 'shopbot-subtitle');
    subtitle.textContent = 'Orders, delivery, returns and products';
    header.appendChild(title);
    header.appendChild(subtitle);

    ui.messages = el('div', 'shopbot-messages', { role: 'log', 'aria-live': 'polite' });

    ui.typing = el('div', 'shopbot-typing', { role: 'status', 'aria-label': 'The assistant is typing' });
    for (var i = 0; i < 3; i++) ui.typing.appendChild(el('span', 'shopbot-dot', { 'aria-hidden': 'true' }));
    ui.typing.hidden = true;

    ui.notice = el('div', 'shopbot-notice', { role: 'status' });
    ui.notice.hidden = true;

    ui.quick = el('div', 'shopbot-quick-replies', { role: 'group', 'aria-label': 'Suggested replies' });
    ui.quick.hidden = true;

    ui.form = el('form', 'shopbot-form');
    ui.input = el('textarea', 'shopbot-input', {
      'aria-label': 'Message', maxlength: String(MAX_CHARS), rows: '1', placeholder: 'Type your message…'
    });
    ui.send = el('button', 'shopbot-send', { type: 'submit', 'aria-label': 'Send' });
    ui.send.textContent = 'Send';
    ui.form.appendChild(ui.input);
    ui.form.appendChild(ui.send);

    // The close button comes last in the DOM so Tab reaches it after Send (contract);
    // CSS places it in the header's corner.
    ui.close = el('button', 'shopbot-close', { type: 'button', 'aria-label': 'Close chat' });
    ui.close.appendChild(el('span', '', { 'aria-hidden': 'true' })).textContent = '×';

    [header, ui.messages, ui.typing, ui.notice, ui.quick, ui.form, ui.close].forEach(function (n) {
      ui.panel.appendChild(n);
    });
    root.appendChild(ui.panel);
    root.appendChild(ui.launcher);
    ui.root = root;
    document.body.appendChild(root);
    loadStylesheet(root);
    bindEvents();
  }

  function loadStylesheet(root) {
    var href = BASE + '/widget.css';
    var show = function () { root.hidden = false; };
    var existing = document.querySelector('link[href="' + href.replace(/"/g, '\\"') + '"]');
    if (existing) return show();
    var link = el('link', '', { rel: 'stylesheet', href: href });
    link.addEventListener('load', show);
    link.addEventListener('error', show); // unstyled beats invisible
    setTimeout(show, 3000);
    document.head.appendChild(link);
  }

  function bindEvents() {
    ui.launcher.addEventListener('click', function () {
      if (ui.panel.hidden) open(); else close();
    });
    ui.close.addEventListener('click', close);
    // On the whole widget, so Escape also works with focus on the launcher.
    ui.root.addEventListener('keydown', function (ev) {
      if (ev.key === 'Escape' && !ui.panel.hidden) {
        ev.preventDefault();
        close();
      }
    });
    ui.form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      submitInput();
    });
    ui.input.addEventListener('keydown', function (ev) {
      // Enter sends, Shift+Enter is a new line; never interrupt an IME composition.
      if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        submitInput();
      }
    });
    ui.input.addEventListener('input', autoGrow);
    window.addEventListener('online', function () {
      updateConnNotice();
      if (!state.welcomed) reconnectNow();
    });
    window.addEventListener('offline', updateConnNotice);
  }

  function autoGrow() {
    // CSSOM writes are allowed under a strict CSP (only style attributes in markup are not).
    ui.input.style.height = 'auto';
    ui.input.style.height = Math.min(ui.input.scrollHeight, 140) + 'px';
  }

  /* ------------------------------------------------------------ panel open */

  function open() {
    ui.panel.hidden = false;
    ui.launcher.setAttribute('aria-expanded', 'true');
    ui.root.classList.add('shopbot-open');
    start();
    scrollToEnd();
    ui.input.focus();
  }

  function close() {
    ui.panel.hidden = true;
    ui.launcher.setAttribute('aria-expanded', 'false');
    ui.root.classList.remove('shopbot-open');
    ui.launcher.focus();
  }

  function submitInput() {
    var text = ui.input.value;
    if (!text.trim()) return;
    ui.input.value = '';
    autoGrow();
    send(text);
  }

  /* ------------------------------------------------------------ rendering */

  function pad(n) {
    return (n < 10 ? '0' : '') + n;
  }

  function timeNode(at) {
    var d = new Date(at);
    if (isNaN(d.getTime())) d = new Date();
    var t = el('time', 'shopbot-time', { datetime: at || d.toISOString() });
    t.textContent = pad(d.getHours()) + ':' + pad(d.getMinutes());
    return t;
  }

  // Text nodes for plain text; <a> only for http(s) URLs, so no markup in a message ever runs.
  function appendText(parent, text) {
    var last = 0;
    var match;
    URL_RE.lastIndex = 0;
    while ((match = URL_RE.exec(text)) !== null) {
      var raw = match[0].replace(/[.,;:!?)\]}]+$/, ''); // "see https://x.y/a." ends before the dot
      var url = safeUrl(raw);
      if (!url) continue;
      parent.appendChild(document.createTextNode(text.slice(last, match.index)));
      var a = document.createElement('a');
      a.href = url;
      a.target = '_blank';
      a.rel = 'noopener noreferrer';
      a.textContent = raw;
      parent.appendChild(a);
      last = match.index + raw.length;
      URL_RE.lastIndex = last;
    }
    parent.appendChild(document.createTextNode(text.slice(last)));
  }

  function safeUrl(raw) {
    try {
      var u = new URL(raw);
      return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null;
    } catch (e) {
      return null;
    }
  }

  function feedbackButton(entry, rating) {
    var up = rating === 'up';
    var b = el('button', up ? 'shopbot-feedback-up' : 'shopbot-feedback-down', {
      type: 'button', 'aria-label': up ? 'Helpful' : 'Not helpful',
      'aria-pressed': entry.feedback === rating ? 'true' : 'false'
    });
    b.appendChild(icon('thumb', !up));
    b.addEventListener('click', function () { sendFeedback(entry.id, rating); });
    return b;
  }

  function renderEntry(entry) {
    if (entry.id && state.byId[entry.id]) return; // a replayed answer is already on screen
    var bot = entry.role === 'bot';
    var msg = el('div', 'shopbot-message ' + (bot ? 'shopbot-bot' : 'shopbot-user'));
    var text = el('div', 'shopbot-text');
    appendText(text, String(entry.text || ''));
    var meta = el('div', 'shopbot-meta');
    meta.appendChild(timeNode(entry.at));
    if (bot && entry.id) {
      meta.appendChild(feedbackButton(entry, 'up'));
      meta.appendChild(feedbackButton(entry, 'down'));
    }
    msg.appendChild(text);
    msg.appendChild(meta);
    ui.messages.appendChild(msg);
    if (entry.id) state.byId[entry.id] = msg;
    state.lastEntry = entry;
  }

  function renderQuickReplies() {
    while (ui.quick.firstChild) ui.quick.removeChild(ui.quick.firstChild);
    var e = state.lastEntry;
    var options = e && e.role === 'bot' && !state.pending.length ? e.quick_replies || [] : [];
    options.forEach(function (label) {
      var b = el('button', 'shopbot-quick-reply', { type: 'button' });
      b.textContent = String(label);
      b.addEventListener('click', function () {
        send(String(label));
        ui.input.focus(); // the button is about to disappear; keep keyboard users in place
      });
      ui.quick.appendChild(b);
    });
    ui.quick.hidden = options.length === 0;
  }

  function scrollToEnd() {
    ui.messages.scrollTop = ui.messages.scrollHeight;
  }

  function setTyping(on) {
    ui.typing.hidden = !on;
    if (on) scrollToEnd();
  }

  function setNotice(kind, text) {
    state.notices[kind] = text || '';
    var n = state.notices;
    var shown = n.rate || n.error || n.conn;
    ui.notice.textContent = shown;
    ui.notice.hidden = !shown;
  }

  var OFFLINE = 'You’re offline. Messages will be sent when you’re back online.';

  var UNREACHABLE = 'Can’t reach the chat right now — we’ll keep trying.';

  // One line about the connection: offline, unreachable (socket down and the last HTTP attempt
  // failed), or still reconnecting. Nothing while the socket or the HTTP fallback works.
  function updateConnNotice() {
    var text = '';
    var down = state.started && !state.welcomed;
    if (state.started && navigator.onLine === false) text = OFFLINE;
    else if (down && state.useHttp && state.httpOk === false) text = UNREACHABLE;
    else if (down && state.failures > 0 && (!state.useHttp || state.httpOk === null)) text = 'Reconnecting…';
    setNotice('conn', text);
  }

  /* ------------------------------------------------------------ protocol */

  function newClientId() {
    var c = window.crypto;
    if (c && typeof c.randomUUID === 'function') return c.randomUUID();
    // randomUUID needs a secure context; build an RFC 4122 v4 id by hand otherwise.
    var bytes = new Uint8Array(16);
    if (c && c.getRandomValues) c.getRandomValues(bytes);
    else for (var i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(bytes, function (b) { return (b + 0x100).toString(16).slice(1); }).join('');
    return hex.slice(0, 8) + '-' + hex.slice(8, 12) + '-' + hex.slice(12, 16) + '-' +
      hex.slice(16, 20) + '-' + hex.slice(20);
  }

  function send(text) {
    text = String(text == null ? '' : text);
    if (!text.trim()) return;
    var item = { id: newClientId(), text: text, at: new Date().toISOString(), sentGen: -1, httpBusy: false };
    state.pending.push(item);
    renderEntry({ id: item.id, role: 'user', text: text, quick_replies: [], at: item.at });
    renderQuickReplies(); // a new message retires the previous suggestions
    setNotice('error', '');
    setTyping(true);
    start();
    flush();
  }

  // Sends every unanswered message over whichever transport works now.
  function flush() {
    if (state.ws && state.welcomed) {
      state.pending.forEach(function (item) {
        if (item.sentGen === state.wsGen || item.httpBusy) return;
        item.sentGen = state.wsGen;
        wsSend({ type: 'message', client_id: item.id, text: item.text });
      });
    } else if (state.useHttp) {
      httpFlush();
    }
  }

  function onWelcome(msg) {
    if (msg.token) saveToken(msg.token);
    // The server's history replaces what is shown, so a reload never duplicates anything.
    while (ui.messages.firstChild) ui.messages.removeChild(ui.messages.firstChild);
    state.byId = {};
    state.lastEntry = null;
    (msg.history || []).forEach(renderEntry);
    state.pending.forEach(function (item) {
      renderEntry({ id: item.id, role: 'user', text: item.text, quick_replies: [], at: item.at });
    });
    state.loaded = true;
    renderQuickReplies();
    setTyping(state.pending.length > 0);
    scrollToEnd();
  }

  function takePending(clientId) {
    for (var i = 0; i < state.pending.length; i++) {
      if (!clientId || state.pending[i].id === clientId) return state.pending.splice(i, 1)[0];
    }
    return null;
  }

  function onReply(msg) {
    // A reply to a message no longer waiting belongs to a conversation left by identify(), or
    // repeats one already shown (renderEntry dedupes those too).
    if (!takePending(msg.client_id) && msg.client_id) return;
    (msg.replies || []).forEach(renderEntry);
    setNotice('error', '');
    renderQuickReplies();
    setTyping(state.pending.length > 0);
    scrollToEnd();
  }

  // The unanswered message an error is about: the one named, else (the server answers a socket's
  // frames in order) the oldest sent on this socket. A bad_request without an id is not about a
  // message (e.g. feedback on an unknown reply).
  function erroredItem(msg, clientId) {
    var id = clientId || msg.client_id;
    if (id) return takePending(id);
    if (msg.code === 'bad_request') return null;
    for (var i = 0; i < state.pending.length; i++) {
      var item = state.pending[i];
      if (item.sentGen === state.wsGen && !item.httpBusy) return state.pending.splice(i, 1)[0];
    }
    return null;
  }

  function onError(msg, clientId) {
    if (msg.code === 'invalid_token' && clientId) {
      // The stored token expired (HTTP fallback): start a fresh conversation and send again.
      state.token = null;
      return httpHello().then(httpFlush);
    }
    // Nothing was processed: take the message back out of the log and into the input box.
    var item = erroredItem(msg, clientId);
    if (item) returnToInput(item);
    if (msg.code === 'rate_limited') {
      var secs = Math.max(1, Math.ceil(Number(msg.retry_after) || 5));
      setNotice('rate', 'You’re sending messages quickly — please wait ' + secs + ' seconds.');
      clearTimeout(state.rateTimer);
      state.rateTimer = setTimeout(function () { setNotice('rate', ''); }, secs * 1000);
    } else {
      setNotice('error', msg.message || 'Sorry, something went wrong. Please try again.');
    }
    setTyping(state.pending.length > 0);
    renderQuickReplies();
  }

  // Refusals arrive in sending order (one socket answers in order, HTTP sends one at a time), so
  // appending keeps several refused messages in the order they were typed; nothing is dropped.
  function returnToInput(item) {
    var node = state.byId[item.id];
    if (node && node.parentNode) node.parentNode.removeChild(node);
    delete state.byId[item.id];
    var current = ui.input.value;
    ui.input.value = current.trim() ? current.replace(/\s+$/, '') + '\n' + item.text : item.text;
    autoGrow();
  }

  function onFeedbackSaved(msg) {
    var node = state.byId[msg.reply_id];
    if (!node) return;
    var up = node.querySelector('.shopbot-feedback-up');
    var down = node.querySelector('.shopbot-feedback-down');
    if (up) up.setAttribute('aria-pressed', msg.rating === 'up' ? 'true' : 'false');
    if (down) down.setAttribute('aria-pressed', msg.rating === 'down' ? 'true' : 'false');
  }

  function dispatch(msg, clientId) {
    if (!msg || typeof msg !== 'object') return;
    if (msg.type === 'welcome') onWelcome(msg);
    else if (msg.type === 'typing') setTyping(true);
    else if (msg.type === 'reply') onReply(msg);
    else if (msg.type === 'feedback_saved') onFeedbackSaved(msg);
    else if (msg.type === 'error') onError(msg, clientId);
  }

  function sendFeedback(replyId, rating) {
    var body = { type: 'feedback', reply_id: replyId, rating: rating };
    if (state.ws && state.welcomed) return wsSend(body);
    body = { token: state.token, identity: state.identity || null, reply_id: replyId, rating: rating };
    httpPost('/web/v1/feedback', body).then(function (res) { dispatch(res); });
  }

  /* ------------------------------------------------------------ WebSocket */

  // First connection: on load for a returning visitor (to restore history), else on first use.
  function start() {
    if (state.started) return;
    state.started = true;
    connect();
  }

  function wsUrl() {
    return BASE.replace(/^http/, 'ws') + '/ws';
  }

  function wsSend(obj) {
    try {
      state.ws.send(JSON.stringify(obj));
    } catch (e) {
      /* the socket is closing; its close handler resends what is unanswered */
    }
  }

  function hello() {
    return { type: 'hello', token: state.token || null, identity: state.identity || null };
  }

  function connect() {
    state.retryTimer = null;
    var ws;
    try {
      ws = new WebSocket(wsUrl());
    } catch (e) {
      return socketFailed(null);
    }
    state.ws = ws;
    state.wsGen += 1;
    state.welcomed = false;
    ws.addEventListener('open', function () {
      wsSend(hello());
    });
    ws.addEventListener('message', function (ev) {
      var msg;
      try {
        msg = JSON.parse(ev.data);
      } catch (e) {
        return;
      }
      if (msg && msg.type === 'welcome' && state.ws === ws) {
        state.welcomed = true;
        state.failures = 0;
        state.useHttp = false; // the socket is back: it carries everything again
        state.httpOk = null;
        updateConnNotice();
        dispatch(msg);
        return flush();
      }
      dispatch(msg);
    });
    ws.addEventListener('close', function () {
      if (state.ws === ws) socketFailed(ws);
    });
  }

  function socketFailed(ws) {
    if (!state.welcomed || !ws) state.failures += 1;
    else state.failures = 0; // a working socket dropped: start the backoff again from the bottom
    state.ws = null;
    state.welcomed = false;
    if (state.failures >= HTTP_AFTER_FAILURES && !state.useHttp) {
      state.useHttp = true;
      state.httpOk = null;
      httpHello(); // loads the history if needed and tells us whether HTTP gets through
    }
    updateConnNotice();
    if (state.useHttp) httpFlush(); // unanswered messages go over HTTP meanwhile
    var delay = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * Math.pow(2, Math.max(0, state.failures - 1)));
    state.retryTimer = setTimeout(connect, delay);
  }

  function reconnectNow() {
    if (state.ws || !state.started) return;
    clearTimeout(state.retryTimer);
    connect();
  }

  /* ------------------------------------------------------------ HTTP fallback */

  // Resolves to the parsed JSON body (an `error` body for HTTP 4xx/5xx), or null when unreachable
  // or too slow; records the outcome for the connection notice.
  function httpPost(path, body) {
    var abort = typeof AbortController === 'function' ? new AbortController() : null;
    var timer = abort && setTimeout(function () { abort.abort(); }, HTTP_TIMEOUT_MS);
    return fetch(BASE + path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
      credentials: 'omit',
      signal: abort ? abort.signal : undefined
    }).then(function (res) {
      clearTimeout(timer);
      httpReached(true);
      return res.json().catch(function () {
        return res.ok ? null : { type: 'error', code: 'unavailable', message: 'The chat is unavailable right now. Please try again.' };
      });
    }).catch(function () {
      clearTimeout(timer);
      httpReached(false);
      return null;
    });
  }

  // The customer must not watch typing dots for a message that could not be delivered: it stays
  // queued (same client_id) and goes out on the next socket or HTTP attempt.
  function httpReached(ok) {
    state.httpOk = ok;
    if (!ok && !state.welcomed) setTyping(false);
    updateConnNotice();
  }

  function postHello() {
    return httpPost('/web/v1/hello', hello()).then(function (msg) {
      if (msg && msg.type === 'welcome') dispatch(msg);
    });
  }

  // Queued behind any request in flight (never call it from inside the queue: use postHello).
  function httpHello() {
    state.httpChain = state.httpChain.then(postHello);
    return state.httpChain;
  }

  // One request at a time, oldest first, so the bot sees messages in the order they were typed.
  function httpFlush() {
    state.pending.forEach(function (item) {
      if (item.httpBusy) return;
      item.httpBusy = true;
      state.httpChain = state.httpChain.then(function () {
        if (state.pending.indexOf(item) < 0) return null; // answered over the socket meanwhile
        if (!state.token) return postHello().then(function () { return postMessage(item); });
        return postMessage(item);
      }).then(function () {
        item.httpBusy = false;
        if (state.welcomed && state.pending.indexOf(item) >= 0) flush(); // the socket came back
      });
    });
  }

  function postMessage(item) {
    if (!state.token) return null;
    var body = { token: state.token, identity: state.identity || null, client_id: item.id, text: item.text };
    return httpPost('/web/v1/messages', body).then(function (msg) {
      if (msg) dispatch(msg, item.id);
    });
  }

  /* ------------------------------------------------------------ public API */

  // Another identity (or none: logged out) is another conversation on the server, so the previous
  // customer's messages leave the screen and the fresh hello's welcome brings the right history.
  function identify(token) {
    var next = token || null;
    if (next === state.identity) return start();
    state.identity = next;
    forgetConversation();
    if (state.ws && state.ws.readyState === WebSocket.OPEN) wsSend(hello()); // a fresh hello carries it
    else if (state.useHttp) httpHello();
    else start();
  }

  // Messages not yet sent are not sent on under the new identity (they were written in the other
  // conversation): their text goes back to the input. Those already out are answered (and kept)
  // in the conversation they were sent to.
  function forgetConversation() {
    var unsent = state.pending.filter(function (item) {
      return item.sentGen !== state.wsGen && !item.httpBusy;
    });
    state.pending = [];
    unsent.forEach(returnToInput);
    while (ui.messages.firstChild) ui.messages.removeChild(ui.messages.firstChild);
    state.byId = {};
    state.lastEntry = null;
    state.loaded = false;
    renderQuickReplies();
    setTyping(false);
    setNotice('error', '');
  }

  function init() {
    buildDom();
    if (state.token) start(); // returning visitor: fetch the history now so it is there on open
  }

  // API calls made before the page body exists run once the widget is built.
  function whenReady(fn) {
    return function () {
      var args = arguments;
      if (ui.root) return fn.apply(null, args);
      document.addEventListener('DOMContentLoaded', function () { fn.apply(null, args); });
    };
  }

  window.ShopbotWidget = {
    open: whenReady(open),
    close: whenReady(close),
    identify: whenReady(identify),
    send: whenReady(send)
  };

  if (document.body) init();
  else document.addEventListener('DOMContentLoaded', init);
})();
