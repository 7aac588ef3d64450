/* ctrack.js: shows each visitor a tracking number leased to their visit (ctrack DNI).
 * <script async src="https://ctrack.example.com/ctrack.js" data-site="example.com"></script>
 * data-consent: wait for ctrack.consent(), the "ctrack:consent" event or window.ctrackConsent.
 * data-ctrack-pool="portland" on this tag, <html> or any element: lease from that pool
 * (regional pools; otherwise the server picks by utm_campaign, path prefix, then the default).
 * Swaps text (also split across inline elements), tel: links, aria-label, title and alt, in
 * the page and its open shadow roots, now and as they change. Never touches [data-ctrack-noswap],
 * address/NAP blocks, microdata telephone/address, h-card/vcard or scripts (JSON-LD).
 * With no valid lease the page keeps its own numbers. */
(function (w, d) {
  'use strict';
  var me = d.currentScript;
  if (!me || w.ctrack || !w.fetch || !w.WeakSet) return;
  var site = (me.getAttribute('data-site') || location.hostname).toLowerCase().replace(/\.$/, '').replace(/^www\./, '');
  var api = new URL('dni/v1/lease', me.src).href;
  var KEYS = ['utm_source', 'utm_medium', 'utm_campaign', 'utm_term', 'utm_content',
              'gclid', 'gbraid', 'wbraid', 'msclkid', 'fbclid'];
  var KEEP = 'address,[data-ctrack-noswap],[data-ctrack-keep],[itemprop~="telephone"],[itemprop~="address"],.h-card,.vcard,' +
             'script,style,noscript,template,textarea,title';
  // Elements that flow inline: a number may be split across them.
  var INLINE = /^(A|ABBR|B|BDI|BDO|CITE|CODE|DATA|DFN|EM|FONT|I|KBD|MARK|Q|S|SAMP|SMALL|SPAN|STRONG|SUB|SUP|TIME|U|VAR)$/;
  var ATTRS = ['href', 'aria-label', 'title', 'alt'];
  var SEP = /^[\s().\-\/\u00a0\u2011]{1,3}$/;
  var STORE = 'ctrack:' + site;
  var lease = null;                 // the server's answer: visit_id, number, formatted, published …
  var map = Object.create(null);    // digits as published -> [digits to show | null, international?]
  var texts = new Map();            // text node -> [original, what we put there]
  var attrs = new Map();            // element -> {attribute: [original, what we put there]}
  var observer = null, watched = new WeakSet(), timer = 0, started = false;

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
  // Where the published numbers are in `text`: [start, end, replacement] for each run of digit
  // groups joined by short separators that spells one.
  function edits(text) {
    var groups = [], found = [], m, re = /\d+/g;
    while ((m = re.exec(text))) groups.push([m.index, m.index + m[0].length, m[0]]);
    for (var i = 0; i < groups.length; i++) {
      var digits = '', hit = -1, hitDigits = '';
      for (var j = i; j < groups.length && digits.length <= 16; j++) {
        if (j > i && !SEP.test(text.slice(groups[j - 1][1], groups[j][0]))) break;
        digits += groups[j][2];
        if (digits in map) { hit = j; hitDigits = digits; }
      }
      if (hit < 0) continue;
      found.push([groups[i][0], groups[hit][1], render(text.slice(groups[i][0], groups[hit][1]), hitDigits)]);
      i = hit;
    }
    return found;
  }

  function swap(text) {
    var out = '', pos = 0;
    edits(text).forEach(function (e) { out += text.slice(pos, e[0]) + e[2]; pos = e[1]; });
    return out + text.slice(pos);
  }

  function swapTel(h) {
    if (!/^tel:/i.test(h)) return h;
    var raw = h.slice(4);
    try { raw = decodeURIComponent(raw); } catch (e) { /* keep it as written */ }
    var swapped = swap(raw);
    return swapped === raw ? h : h.slice(0, 4) + swapped;
  }

  // Inside a kept element, here or around the open shadow roots it sits in.
  function kept(node) {
    while (node) {
      var el = node.nodeType === 1 ? node : node.parentElement;
      if (el && el.closest(KEEP)) return true;
      node = (el || node).getRootNode().host;
    }
    return false;
  }

  // The nearest ancestor that is not inline: an element, a shadow root or the document.
  function container(node) {
    var p = node.parentNode;
    while (p && p.nodeType === 1 && INLINE.test(p.tagName)) p = p.parentNode;
    return p;
  }

  // What we wrote is remembered with what was there, so a new number or a lost lease can redo
  // or undo it, and a page's own later change is taken as the new original.
  function original(rec, current) { return rec && rec[1] === current ? rec[0] : current; }

  // Text nodes that read as one line (split only by inline elements) are swapped as one
  // string, so `<b>503</b>-555-0100` is found; each node keeps its share of the characters
  // and the markup stays.
  function fixRun(run) {
    var was = run.map(function (n) { return original(texts.get(n), n.nodeValue); });
    var whole = was.join(''), found = edits(whole), out = found.length ? whole.split('') : null, pos = 0;
    found.forEach(function (e) {
      for (var k = 0, len = e[1] - e[0]; k < len; k++) {
        out[e[0] + k] = e[2].length === len ? e[2].charAt(k) : k ? '' : e[2];
      }
    });
    run.forEach(function (n, i) {
      var next = out ? out.slice(pos, pos += was[i].length).join('') : was[i];
      if (next === was[i]) texts.delete(n); else texts.set(n, [was[i], next]);
      if (next !== n.nodeValue) n.nodeValue = next;
    });
  }

  // tel: links, and the accessible name and tooltip, so they say what the text says.
  function fixAttrs(el) {
    var recs = attrs.get(el) || {}, left = false;
    ATTRS.forEach(function (name) {
      var current = el.getAttribute(name);
      if (current === null) { delete recs[name]; return; }
      var was = original(recs[name], current), next = name === 'href' ? swapTel(was) : swap(was);
      if (next === was) delete recs[name]; else { recs[name] = [was, next]; left = true; }
      if (next !== current) el.setAttribute(name, next);
    });
    if (left) attrs.set(el, recs); else attrs.delete(el);
  }

  function watch(root) {
    if (!observer || watched.has(root)) return;
    watched.add(root);
    observer.observe(root, { childList: true, subtree: true, characterData: true,
                             attributes: true, attributeFilter: ATTRS });
  }

  function visit(root) {
    if (!root || kept(root)) return;
    if (root.nodeType === 3 || (root.nodeType === 1 && INLINE.test(root.tagName))) return visit(container(root));
    var run = [], block = null, cut = false;
    var walker = d.createTreeWalker(root, 5, { acceptNode: function (n) {    // elements and text
      if (n.nodeType === 1 && n.matches(KEEP)) { cut = true; return 2; }      // reject kept subtrees
      return 1;
    } });
    function end() { if (run.length) fixRun(run); run = []; }
    for (var n = root; n; n = walker.nextNode()) {
      if (cut) { end(); cut = false; }
      if (n.nodeType === 3) {
        if (container(n) !== block) { end(); block = container(n); }
        run.push(n);
      } else if (n.nodeType === 1) {
        fixAttrs(n);
        if (!INLINE.test(n.tagName) || n.shadowRoot) end();
        if (n.shadowRoot) { watch(n.shadowRoot); visit(n.shadowRoot); }
      }
    }
    end();
  }

  function reapply() {
    [texts, attrs].forEach(function (seen) {
      seen.forEach(function (_, node) { if (!node.isConnected) seen.delete(node); });
    });
    visit(d);
  }

  function observe() {
    if (observer || !w.MutationObserver) return;
    observer = new MutationObserver(function (records) {
      var todo = new Set();
      records.forEach(function (r) {
        if (r.type === 'attributes') { if (!kept(r.target)) fixAttrs(r.target); }
        else if (r.type === 'characterData') todo.add(container(r.target));
        else r.addedNodes.forEach(function (n) { todo.add(n); });
      });
      todo.forEach(visit);
    });
    watch(d);
  }

  // Shadow roots the page opens later are observed from the start.
  function hookShadows() {
    var E = w.Element && Element.prototype, attach = E && E.attachShadow;
    if (!attach) return;
    E.attachShadow = function () {
      var root = attach.apply(this, arguments);
      if (root.mode === 'open') watch(root);
      return root;
    };
  }

  // The anti-flicker snippet hides [data-ctrack-wait] while <html> has this class, for at
  // most its own timeout; lifted as soon as the numbers are right or cannot be.
  function reveal() { d.documentElement.classList.remove('ctrack-wait'); }

  function use(v) {
    lease = v;
    buildMap();
    if (v && v.number) observe();
    reapply();
    reveal();
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
    var chosen = d.querySelector('[data-ctrack-pool]');
    var pool = chosen && chosen.getAttribute('data-ctrack-pool').trim();
    if (pool && pool.length <= 100) body.pool = pool;
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
      .catch(function () { clearTimeout(stop); reveal(); schedule(null); });
  }

  function start() {
    if (started) return;
    started = true;
    hookShadows();
    var v = cached();
    if (v) use(v);                                   // later pages: the cached lease, no flicker
    // A data-ctrack-pool further down the page is read once the page is parsed.
    if (d.readyState === 'loading' && !d.querySelector('[data-ctrack-pool]')) {
      d.addEventListener('DOMContentLoaded', renew);
    } else renew();
    d.addEventListener('visibilitychange', function () {
      if (!d.hidden && (!lease || lease.lease_expires_at - now() < 60)) renew();
    });
  }

  w.ctrack = { consent: start };
  if (!me.hasAttribute('data-consent') || w.ctrackConsent === true) start();
  else { reveal(); d.addEventListener('ctrack:consent', start); }
})(window, document);
