// Osprey web UI: the little behaviour the server-rendered pages need.
// - [data-poll] elements reload their content from a server-rendered fragment
//   every few seconds (paused while the tab is hidden);
// - button[data-api] sends a request to the JSON API (POST by default, or
//   data-method), with the JSON in data-body if any, then reloads the page;
// - form[data-api] builds a JSON body from its fields (data-kind says how)
//   and posts it;
// - form[data-autosubmit] submits itself when a field changes.
// Every request carries the X-Osprey-UI header, which the server requires of
// state-changing requests authenticated by the sign-in cookie.
(function () {
  'use strict';

  var flashTimer = 0;
  function flash(msg, bad) {
    var f = document.getElementById('flash');
    if (!f) { return; }
    f.textContent = msg;
    f.className = 'show ' + (bad ? 'bad' : 'ok');
    clearTimeout(flashTimer);
    flashTimer = setTimeout(function () { f.className = ''; }, bad ? 10000 : 4000);
  }

  function signIn() {
    location.href = '/ui/login?next=' + encodeURIComponent(location.pathname + location.search);
  }

  // call sends a request to the API and resolves with the decoded JSON reply,
  // or rejects with the API's error message.
  function call(method, url, body) {
    var opts = { method: method, credentials: 'same-origin', headers: { 'X-Osprey-UI': '1', 'Accept': 'application/json' } };
    if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    return fetch(url, opts).then(function (r) {
      return r.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        if (r.status === 401) {
          signIn();
          throw new Error('sign in needed');
        }
        if (!r.ok) {
          throw new Error((data && data.error) || ('request failed: HTTP ' + r.status));
        }
        return data;
      });
    });
  }

  function done(el) {
    flash(el.getAttribute('data-done') || 'Done', false);
    setTimeout(function () { location.reload(); }, 250);
  }

  document.addEventListener('click', function (ev) {
    var b = ev.target.closest ? ev.target.closest('button[data-api]') : null;
    if (!b || b.disabled) { return; }
    ev.preventDefault();
    var body;
    var raw = b.getAttribute('data-body');
    if (raw) {
      try { body = JSON.parse(raw); } catch (e) { flash('bad request body', true); return; }
    }
    b.disabled = true;
    call(b.getAttribute('data-method') || 'POST', b.getAttribute('data-api'), body)
      .then(function () { done(b); })
      .catch(function (e) { flash(e.message, true); b.disabled = false; });
  });

  // parseMatchers reads Alertmanager-style matchers:
  //   service="checkout", env=~"prod.*", team!=ops
  function parseMatchers(text) {
    var out = [];
    var re = /\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|[^,]*)\s*(?:,|$)/y;
    var s = text.trim().replace(/^\{/, '').replace(/\}$/, '');
    re.lastIndex = 0;
    while (re.lastIndex < s.length) {
      var start = re.lastIndex;
      var m = re.exec(s);
      if (!m || re.lastIndex === start) {
        throw new Error('cannot read the matchers at: ' + s.slice(start));
      }
      var value = m[3].trim();
      if (value.charAt(0) === '"') { value = JSON.parse(value); }
      out.push({ name: m[1], type: m[2], value: value });
    }
    if (out.length === 0) { throw new Error('give at least one matcher, such as service="checkout"'); }
    return out;
  }

  // maintenanceBody reads the maintenance window form: a one-off window
  // (start, default now, and duration) or a weekly one (days, start time,
  // duration, zone).
  function maintenanceBody(f) {
    var body = { name: f.name.value.trim(), matchers: parseMatchers(f.matchers.value), comment: f.comment.value.trim() };
    var duration = f.duration.value.trim();
    if (f.repeat.value === 'weekly') {
      var days = [];
      var boxes = f.days;
      for (var i = 0; i < boxes.length; i++) {
        if (boxes[i].checked) { days.push(boxes[i].value); }
      }
      if (days.length === 0) { throw new Error('pick at least one day for a weekly window'); }
      if (!f.at.value) { throw new Error('give the time a weekly window starts'); }
      body.schedule = { days: days, start: f.at.value, duration: duration, timezone: f.timezone.value.trim() };
      return body;
    }
    if (f.start.value) {
      var start = new Date(f.start.value);
      if (isNaN(start.getTime())) { throw new Error('cannot read the start time'); }
      body.startsAt = start.toISOString();
    }
    body.duration = duration;
    return body;
  }

  function formBody(form) {
    var f = form.elements;
    switch (form.getAttribute('data-kind')) {
      case 'silence':
        return { matchers: parseMatchers(f.matchers.value), duration: f.duration.value.trim(), comment: f.comment.value.trim() };
      case 'comment':
        return { text: f.text.value.trim() };
      case 'maintenance':
        return maintenanceBody(f);
    }
    var body = {};
    for (var i = 0; i < f.length; i++) {
      if (f[i].name) { body[f[i].name] = f[i].value; }
    }
    return body;
  }

  document.addEventListener('submit', function (ev) {
    var form = ev.target;
    if (!form.hasAttribute('data-api')) { return; }
    ev.preventDefault();
    var body;
    try { body = formBody(form); } catch (e) { flash(e.message, true); return; }
    var button = form.querySelector('button[type=submit]');
    if (button) { button.disabled = true; }
    call(form.getAttribute('data-method') || 'POST', form.getAttribute('data-api'), body)
      .then(function () { done(form); })
      .catch(function (e) { flash(e.message, true); if (button) { button.disabled = false; } });
  });

  document.addEventListener('change', function (ev) {
    var form = ev.target.form;
    if (form && form.hasAttribute('data-autosubmit')) { form.submit(); }
  });

  // Live regions.
  var interval = parseInt(document.body.getAttribute('data-poll-ms'), 10) || 5000;
  function poll(el) {
    if (document.hidden) { return; }
    fetch(el.getAttribute('data-poll'), { credentials: 'same-origin', headers: { 'X-Osprey-UI': '1' } })
      .then(function (r) {
        if (r.status === 401) { signIn(); return null; }
        if (!r.ok) { el.classList.add('stale'); return null; }
        return r.text();
      })
      .then(function (html) {
        if (html === null || html === undefined) { return; }
        // Keep the folded parts the reader opened open.
        var open = el.querySelectorAll('details[id][open]');
        var ids = [];
        for (var j = 0; j < open.length; j++) { ids.push(open[j].id); }
        el.innerHTML = html; // server-rendered by html/template: escaped
        for (var k = 0; k < ids.length; k++) {
          var d = document.getElementById(ids[k]);
          if (d) { d.open = true; }
        }
        el.classList.remove('stale');
      })
      .catch(function () { el.classList.add('stale'); });
  }
  var live = document.querySelectorAll('[data-poll]');
  for (var i = 0; i < live.length; i++) {
    (function (el) { setInterval(function () { poll(el); }, interval); })(live[i]);
  }
})();
