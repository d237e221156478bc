// The report page's own script (inlined; the page loads nothing). It reads the
// tables from the JSON data element, renders them with textContent only (no
// markup is ever built from data), sorts on a header click, filters on typed
// words (`word` anywhere, `column:word` in one column, all must match), shows
// rows a page at a time, zooms the map, and on a node click lists the node's
// services and narrows the asset and service tables to its addresses.
export const PAGE_SCRIPT = String.raw`(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('report-data').textContent);
  var PAGE = 500;
  // One collator: localeCompare with options builds one per call (a second per 10 000-row sort).
  var collator = new Intl.Collator(undefined, { numeric: true });

  function fmtTs(v) {
    if (typeof v !== 'number' || !isFinite(v)) return '';
    return new Date(v * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
  }
  function cellText(col, v) {
    if (v === null || v === undefined) return '';
    if (col.kind === 'ts') return fmtTs(v);
    if (Array.isArray(v)) return v.join(', ');
    return String(v);
  }
  function cmp(a, b) {
    var an = a === null || a === undefined || a === '';
    var bn = b === null || b === undefined || b === '';
    if (an || bn) return an === bn ? 0 : an ? 1 : -1;
    if (typeof a === 'number' && typeof b === 'number') return a - b;
    if (Array.isArray(a)) a = a.join(', ');
    if (Array.isArray(b)) b = b.join(', ');
    return collator.compare(String(a), String(b));
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  var views = {};
  data.tables.forEach(function (t) { views[t.name] = makeView(t); });

  function makeView(t) {
    var root = document.getElementById('table-' + t.name);
    var v = { t: t, filter: '', only: null, sortCol: -1, sortDir: 1, shown: PAGE, text: null, root: root };
    var input = root.querySelector('input.filter');
    var table = root.querySelector('table');
    var thead = el('thead');
    var hr = el('tr');
    t.columns.forEach(function (c, i) {
      var th = el('th', 'k-' + c.kind, c.label);
      th.title = 'sort by ' + c.label + ' (filter: ' + c.key + ':word)';
      th.addEventListener('click', function () {
        v.sortDir = v.sortCol === i ? -v.sortDir : 1;
        v.sortCol = i;
        v.shown = PAGE;
        render(v);
      });
      hr.appendChild(th);
    });
    thead.appendChild(hr);
    table.appendChild(thead);
    v.tbody = el('tbody');
    table.appendChild(v.tbody);
    v.count = root.querySelector('.count');
    v.more = root.querySelector('button.more');
    v.chip = root.querySelector('.only');
    v.more.addEventListener('click', function () { v.shown += PAGE; render(v); });
    input.addEventListener('input', function () { v.filter = input.value; v.shown = PAGE; render(v); });
    v.chip.addEventListener('click', function () { v.only = null; v.shown = PAGE; render(v); });
    v.ipCol = -1;
    t.columns.forEach(function (c, i) { if (c.key === 'ip') v.ipCol = i; });
    render(v);
    return v;
  }

  function rowText(v) {
    if (v.text === null) {
      v.text = v.t.rows.map(function (r) {
        return v.t.columns.map(function (c, i) { return cellText(c, r[i]).toLowerCase(); });
      });
    }
    return v.text;
  }

  function matches(v, texts, terms) {
    for (var j = 0; j < terms.length; j++) {
      var term = terms[j];
      var ok = false;
      if (term.col >= 0) ok = texts[term.col].indexOf(term.word) >= 0;
      else for (var i = 0; i < texts.length && !ok; i++) ok = texts[i].indexOf(term.word) >= 0;
      if (!ok) return false;
    }
    return true;
  }

  function parseFilter(v) {
    return v.filter.toLowerCase().split(/\s+/).filter(Boolean).map(function (w) {
      var k = w.indexOf(':');
      if (k > 0) {
        var key = w.slice(0, k);
        for (var i = 0; i < v.t.columns.length; i++) {
          if (v.t.columns[i].key === key || v.t.columns[i].label.toLowerCase() === key) return { col: i, word: w.slice(k + 1) };
        }
      }
      return { col: -1, word: w };
    });
  }

  function render(v) {
    var t = v.t;
    var terms = parseFilter(v);
    var texts = terms.length > 0 ? rowText(v) : null;
    var idx = [];
    for (var r = 0; r < t.rows.length; r++) {
      if (v.only !== null && (v.ipCol < 0 || !v.only.set[t.rows[r][v.ipCol]])) continue;
      if (texts !== null && !matches(v, texts[r], terms)) continue;
      idx.push(r);
    }
    if (v.sortCol >= 0) {
      var c = v.sortCol;
      idx.sort(function (a, b) { return v.sortDir * cmp(t.rows[a][c], t.rows[b][c]) || a - b; });
    }
    var ths = v.root.querySelectorAll('th');
    for (var h = 0; h < ths.length; h++) {
      ths[h].className = 'k-' + t.columns[h].kind + (h === v.sortCol ? (v.sortDir > 0 ? ' asc' : ' desc') : '');
    }
    var frag = document.createDocumentFragment();
    var n = Math.min(idx.length, v.shown);
    for (var k = 0; k < n; k++) {
      var row = t.rows[idx[k]];
      var tr = el('tr');
      for (var i = 0; i < t.columns.length; i++) {
        var col = t.columns[i];
        var td = el('td', 'k-' + col.kind, cellText(col, row[i]));
        if (col.key === 'status' || col.key === 'severity') td.className += ' v-' + String(row[i]).replace(/[^a-z]/g, '');
        tr.appendChild(td);
      }
      frag.appendChild(tr);
    }
    v.tbody.textContent = '';
    v.tbody.appendChild(frag);
    v.count.textContent = idx.length === t.rows.length ? t.rows.length + ' rows' :
      idx.length + ' of ' + t.rows.length + ' rows';
    v.more.hidden = idx.length <= n;
    v.more.textContent = 'show ' + Math.min(PAGE, idx.length - n) + ' more (' + (idx.length - n) + ' not shown)';
    v.chip.hidden = v.only === null;
    if (v.only !== null) v.chip.textContent = 'only ' + v.only.label + ' \u2715';
  }

  // The map: zoom, and a click on a node shows its services.
  var svg = document.querySelector('#map-view svg');
  var panel = document.getElementById('node-panel');
  if (svg) {
    var vb = svg.viewBox.baseVal;
    var scale = 1;
    svg.removeAttribute('width');
    svg.removeAttribute('height');
    var zoom = function (s) {
      scale = Math.max(0.05, Math.min(s, 8));
      svg.style.width = (vb.width * scale * 4 / 3) + 'px';
      svg.style.height = (vb.height * scale * 4 / 3) + 'px';
    };
    var fit = function () {
      var box = document.getElementById('map-view');
      var h = Math.max(300, box.clientHeight || 0);
      zoom(Math.min(1.5, (box.clientWidth - 8) / (vb.width * 4 / 3), (h - 8) / (vb.height * 4 / 3)));
    };
    document.getElementById('zoom-in').addEventListener('click', function () { zoom(scale * 1.25); });
    document.getElementById('zoom-out').addEventListener('click', function () { zoom(scale / 1.25); });
    document.getElementById('zoom-fit').addEventListener('click', fit);
    fit();

    var byIp = {};
    var st = views.services.t;
    st.rows.forEach(function (row) {
      var ip = row[0];
      (byIp[ip] = byIp[ip] || []).push(row);
    });
    var col = {};
    st.columns.forEach(function (c, i) { col[c.key] = i; });

    svg.addEventListener('click', function (e) {
      var g = e.target.closest ? e.target.closest('g.node') : null;
      if (!g || !data.nodes[g.id]) return;
      select(g);
    });

    var select = function (g) {
      var node = data.nodes[g.id];
      var prev = svg.querySelectorAll('g.node.selected');
      for (var i = 0; i < prev.length; i++) prev[i].classList.remove('selected');
      g.classList.add('selected');
      panel.textContent = '';
      panel.hidden = false;
      panel.appendChild(el('h3', '', node.label + (node.kind === 'group' ? ' (' + node.ips.length + ' addresses)' : '')));
      var list = el('ul', 'svc-list');
      var shown = 0;
      node.ips.forEach(function (ip) {
        var rows = byIp[ip] || [];
        if (node.kind === 'group' && rows.length === 0) return;
        if (shown++ >= 100) return;
        var li = el('li');
        li.appendChild(el('b', '', ip));
        if (rows.length === 0) li.appendChild(el('span', 'none', ' no service seen (client only)'));
        var ul = el('ul');
        rows.forEach(function (r) {
          var s = el('li', 'svc');
          s.appendChild(el('span', 'port', r[col.proto] + '/' + r[col.port]));
          s.appendChild(el('span', 'app', ' ' + (r[col.app] || 'unidentified') + ' '));
          s.appendChild(el('span', 'v-' + String(r[col.status]).replace(/[^a-z]/g, ''), r[col.status]));
          s.appendChild(el('span', 'meta', ' ' + r[col.flows] + ' flows, ' + r[col.clients] + ' clients' +
            (r[col.classes] && r[col.classes].length ? ', ' + r[col.classes].join(', ') : '')));
          ul.appendChild(s);
        });
        li.appendChild(ul);
        list.appendChild(li);
      });
      if (shown > 100) list.appendChild(el('li', 'none', (shown - 100) + ' more: see the tables below'));
      if (shown === 0) list.appendChild(el('li', 'none', 'no service seen on these addresses'));
      panel.appendChild(list);
      var set = {};
      node.ips.forEach(function (ip) { set[ip] = true; });
      ['assets', 'services'].forEach(function (name) {
        var v = views[name];
        v.only = { set: set, label: node.label };
        v.shown = PAGE;
        render(v);
      });
    };
  }
})();
`;
