/* ctrack.js: shows each visitor a tracking number leased to their visit (ctrack DNI).
 * <script src="https://ctrack.example.com/ctrack.js" data-site="example.com"></script>
 * data-consent: wait for ctrack.consent(), the "ctrack:consent" event or window.ctrackConsent.
 * Never touches address/NAP blocks, [data-ctrack-keep], microdata telephone/address,
 * h-card/vcard or scripts (JSON-LD). With no valid lease the page keeps its own numbers. */
(function (w, d) {
  'use strict';
  var me = d.currentScript;
  if (!me || w.ctrack || !w.fetch || !w.Map) return;
  var site = (me.getAttribute('data-site') || location.hostname).toLowerCase().replace(/\.$/, '').replace(/^www\./, '');
  var api = new URL('dni/v1/lease', me.src).href;
  var KEYS = ['utm_source', 'utm_medium', 'utm_campaign', 'utm_term', 'utm_content',
              'gclid', 'gbraid', 'wbraid', 'msclkid', 'fbclid'];
  var KEEP = 'address,[data-ctrack-keep],[itemprop~="telephone"],[itemprop~="address"],.h-card,.vcard,' +
             'script,style,noscript,template,textarea,title';
  var SEP = /^[\s().\-\/\u00a0\u2011]{1,3}$/;
  var STORE = 'ctrack:' + site;
  var lease = null;                 // the server's answer: visit_id, number, formatted, published …
  var map = Object.create(null);    // digits as published -> [digits to show | null, international?]
  var texts = new Map(), links = new Map();   // node -> [original, what we put there]
  var observer = null, timer = 0, started = false;

  function now() { return Date.now() / 1000; }

  // The digit strings a number is written with: +CC NSN, 00/011 CC NSN, national, and for
  // trunk-prefix countries NSN alone and CC (0) NSN.
  function forms(e164, national) {
    var P = e164.replace(/\D/g, ''), N = national.replace(/\D/g, '');
    var nsn = P.slice(-N.length) === N ? N : N.replace(/^0+/, '');
    var f = [P, '00' + P, '011' + P, N];
    if (nsn !== N) f.push(nsn, P.slice(0, P.length - nsn.length) + '0' + nsn);
    return f;
  }

  function buildMap() {
    map = Object.create(null);
    if (!lease || !lease.number) return;
    var to = forms(lease.number, lease.formatted);
    lease.published.forEach(function (p) {
      forms(p.number, p.formatted).forEach(function (digits, i) {
        if (!(digits in map)) map[digits] = [to[i] || null, i < 3];
      });
    });
  }

  function render(segment, digits) {
    var t = map[digits], k = 0;
    if (t[0] && t[0].length === digits.length) {      // same shape: keep the page's formatting
      return segment.replace(/\d/g, function () { return t[0].charAt(k++); });
    }
    return t[1] ? lease.number.replace(/\D/g, '') : lease.formatted;
  }

  // Replace every published number in `text`: runs of digit groups joined by short separators.
  function swap(text) {
    var groups = [], m, re = /\d+/g, out = '', pos = 0;
    while ((m = re.exec(text))) groups.push([m.index, m.index + m[0].length, m[0]]);
    for (var i = 0; i < groups.length; i++) {
      var digits = '', hit = -1, hitDigits = '';
      for (var j = i; j < groups.length && digits.length <= 16; j++) {
        if (j > i && !SEP.test(text.slice(groups[j - 1][1], groups[j][0]))) break;
        digits += groups[j][2];
        if (digits in map) { hit = j; hitDigits = digits; }
      }
      if (hit < 0) continue;
      out += text.slice(pos, groups[i][0]) + render(text.slice(groups[i][0], groups[hit][1]), hitDigits);
      pos = groups[hit][1];
      i = hit;
    }
    return out + text.slice(pos);
  }

  function kept(node) {
    var el = node.nodeType === 1 ? node : node.parentElement;
    return !el || !!el.closest(KEEP);
  }

  // One node, remembering its original so a new number or a lost lease can redo or undo it.
  function fix(seen, node, current, compute, write) {
    var rec = seen.get(node), original = rec && rec[1] === current ? rec[0] : current;
    var next = compute(original);
    if (next === original) seen.delete(node); else seen.set(node, [original, next]);
    if (next !== current) write(next);
  }

  function fixText(node) {
    fix(texts, node, node.nodeValue, swap, function (v) { node.nodeValue = v; });
  }

  function fixLink(a) {
    var href = a.getAttribute('href') || '';
    if (!/^tel:/i.test(href) && !links.has(a)) return;
    fix(links, a, href, function (h) {
      if (!/^tel:/i.test(h)) return h;
      var raw = h.slice(4);
      try { raw = decodeURIComponent(raw); } catch (e) { /* keep it as written */ }
      var swapped = swap(raw);
      return swapped === raw ? h : h.slice(0, 4) + swapped;
    }, function (v) { a.setAttribute('href', v); });
  }

  function visit(root) {
    if (root.nodeType === 3) { if (!kept(root)) fixText(root); return; }
    if (root.nodeType !== 1 || kept(root)) return;
    var walker = d.createTreeWalker(root, 5, { acceptNode: function (n) {    // elements and text
      return n.nodeType === 1 && n.matches(KEEP) ? 2 : 1;                       // reject kept subtrees
    } });
    for (var n = root; n; n = walker.nextNode()) {
      if (n.nodeType === 3) fixText(n); else if (n.tagName === 'A') fixLink(n);
    }
  }

  function reapply() {
    [texts, links].forEach(function (seen) {
      seen.forEach(function (_, node) { if (!node.isConnected) seen.delete(node); });
    });
    visit(d.documentElement);
  }

  function observe() {
    if (observer || !w.MutationObserver) return;
    observer = new MutationObserver(function (records) {
      records.forEach(function (r) {
        if (r.type === 'childList') r.addedNodes.forEach(visit);
        else if (kept(r.target)) return;
        else if (r.type === 'characterData') fixText(r.target);
        else if (r.target.tagName === 'A') fixLink(r.target);
      });
    });
    observer.observe(d.documentElement, { childList: true, subtree: true, characterData: true,
                                          attributes: true, attributeFilter: ['href'] });
  }

  function use(v) {
    lease = v;
    buildMap();
    if (v && v.number) observe();
    reapply();
  }

  function cached() {
    try {
      var v = JSON.parse(w.localStorage.getItem(STORE));
      return v && v.lease_expires_at > now() + 5 ? v : null;
    } catch (e) { return null; }
  }

  function cookie(name) {
    var m = d.cookie.match(new RegExp('(?:^|;\\s*)' + name + '=([^;]*)'));
    return m ? m[1] : '';
  }

  function remember(v) {
    try { w.localStorage.setItem(STORE, JSON.stringify(v)); } catch (e) { /* private mode: no cache */ }
    var host = location.hostname, attrs = '; path=/; SameSite=Lax; max-age=' +
      Math.max(0, Math.floor(v.visit_expires_at - now()));
    if (/[a-z]/.test(site) && site.indexOf('.') > 0 && (host === site || host.slice(-site.length - 1) === '.' + site)) {
      attrs += '; domain=' + site;                    // first-party across www. and subdomains
    }
    if (location.protocol === 'https:') attrs += '; secure';
    d.cookie = '_ctrack=' + v.visit_id + attrs;
  }

  function valid(v) {
    return v && typeof v.visit_id === 'string' && /^[\w-]{16,64}$/.test(v.visit_id) &&
      typeof v.lease_expires_at === 'number' && typeof v.visit_expires_at === 'number' &&
      Array.isArray(v.published) && (v.number === null ||
      (typeof v.number === 'string' && typeof v.formatted === 'string'));
  }

  function schedule(v) {
    var wait = 60;                                   // server unreachable: try again in a minute
    if (v) wait = Math.min(300, Math.max(15, (v.lease_expires_at - now()) / 3));
    else if (lease && lease.lease_expires_at <= now()) use(null);   // lease ran out: originals back
    clearTimeout(timer);
    timer = setTimeout(renew, wait * 1000);
  }

  function renew() {
    var q = new URLSearchParams(location.search), params = {};
    KEYS.forEach(function (k) { var v = q.get(k); if (v && v.length <= 500) params[k] = v; });
    var body = { site: site, page_url: location.href.slice(0, 2048), params: params };
    if (d.referrer && d.referrer.length <= 2048) body.referrer = d.referrer;
    var ga = cookie('_ga').match(/^GA\d\.\d+\.(\d+\.\d+)$/);
    if (ga) body.ga_client_id = ga[1];
    var id = cookie('_ctrack') || (lease && lease.visit_id);
    if (/^[\w-]{16,64}$/.test(id || '')) body.visit_id = id;
    var abort = new AbortController(), stop = setTimeout(function () { abort.abort(); }, 8000);
    fetch(api, { method: 'POST', body: JSON.stringify(body), credentials: 'omit', signal: abort.signal,
                 headers: { 'Content-Type': 'text/plain' } })   // a simple request: no preflight
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (v) {
        if (!valid(v)) throw new Error('bad lease');
        clearTimeout(stop);
        remember(v);
        use(v);
        schedule(v);
      })
      .catch(function () { clearTimeout(stop); schedule(null); });
  }

  function start() {
    if (started) return;
    started = true;
    var v = cached();
    if (v) use(v);                                   // later pages: the cached lease, no flicker
    renew();
    d.addEventListener('visibilitychange', function () {
      if (!d.hidden && (!lease || lease.lease_expires_at - now() < 60)) renew();
    });
  }

  w.ctrack = { consent: start };
  if (!me.hasAttribute('data-consent') || w.ctrackConsent === true) start();
  else d.addEventListener('ctrack:consent', start);
})(window, document);
