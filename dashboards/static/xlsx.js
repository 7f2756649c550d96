/* PAR scoreboard: the workbook of a table, made in the browser when the reader asks for it.
   data/<table>-<key>.js hands over the table as its CSV (gzip, base64) and the parts of the
   same workbook without rows, written by the site's own XLSX writer (transforms/xlsx.py);
   this fills in the rows of the first sheet, as that writer would, and zips the parts.
   Reads nothing but what it is given; makes no network request. */
(function () {
  "use strict";

  function bytesOf(base64) {
    var raw = window.atob(base64);
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { out[i] = raw.charCodeAt(i); }
    return out;
  }

  function gunzip(bytes) {
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Response(stream).text();
  }

  // RFC 4180 as Polars writes it: "," between fields, "\n" between records, quotes doubled.
  function parseCsv(text) {
    if (text.charCodeAt(0) === 0xfeff) { text = text.slice(1); }
    var rows = [], row = [], field = "", i = 0, n = text.length, quoted = false;
    while (i < n) {
      var c = text[i];
      if (quoted) {
        if (c === '"') {
          if (text[i + 1] === '"') { field += '"'; i += 2; continue; }
          quoted = false; i++; continue;
        }
        field += c; i++; continue;
      }
      if (c === '"') { quoted = true; i++; continue; }
      if (c === ",") { row.push(field); field = ""; i++; continue; }
      if (c === "\n" || c === "\r") {
        row.push(field); rows.push(row); row = []; field = "";
        i += (c === "\r" && text[i + 1] === "\n") ? 2 : 1;
        continue;
      }
      field += c; i++;
    }
    if (field !== "" || row.length) { row.push(field); rows.push(row); }
    return rows;
  }

  function letter(index) {
    var s = "";
    index += 1;
    while (index) { var r = (index - 1) % 26; s = String.fromCharCode(65 + r) + s; index = (index - r - 1) / 26; }
    return s;
  }

  var FORBIDDEN = /[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]/g;
  function xmlText(s) {
    return s.replace(FORBIDDEN, "").replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }
  var EPOCH = Date.UTC(1899, 11, 30);
  var DATE_STYLE = 2, DATETIME_STYLE = 3;

  // One cell as transforms/xlsx.py writes it ("" for a value it leaves empty).
  function cell(ref, value, column) {
    var s = column.style ? ' s="' + column.style + '"' : "";
    if (value === "") { return ""; }
    if (column.kind === "b") { return '<c r="' + ref + '" t="b"><v>' + (value === "true" ? 1 : 0) + "</v></c>"; }
    if (column.kind === "n") {
      if (!isFinite(Number(value))) { return ""; }  // NaN, inf: no number in a spreadsheet
      return '<c r="' + ref + '"' + s + "><v>" + value + "</v></c>";
    }
    if (column.kind === "d" || column.kind === "t") {
      var m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?/.exec(value);
      if (!m) { return ""; }
      var t = Date.UTC(+m[1], +m[2] - 1, +m[3], +(m[4] || 0), +(m[5] || 0), +(m[6] || 0));
      var style = column.style || (column.kind === "d" ? DATE_STYLE : DATETIME_STYLE);
      return '<c r="' + ref + '" s="' + style + '"><v>' + ((t - EPOCH) / 86400000) + "</v></c>";
    }
    // the CSV prefixes ' to text a spreadsheet would take for a formula; the workbook keeps the text
    var text = value.replace(/^'(?=[=+\-@\t\r])/, "");
    return '<c r="' + ref + '" t="inlineStr"' + s + '><is><t xml:space="preserve">' + xmlText(text) + "</t></is></c>";
  }

  function sheetRows(records, columns) {
    var out = [];
    var letters = columns.map(function (_c, i) { return letter(i); });
    for (var r = 0; r < records.length; r++) {
      var n = r + 2, cells = "";
      for (var i = 0; i < columns.length; i++) { cells += cell(letters[i] + n, records[r][i] || "", columns[i]); }
      out.push('<row r="' + n + '">' + cells + "</row>");
    }
    return out.join("");
  }

  // ---- zip, stored (the workbook is made on the reader's machine: size does not matter)

  var CRC_TABLE = (function () {
    var t = new Uint32Array(256);
    for (var n = 0; n < 256; n++) {
      var c = n;
      for (var k = 0; k < 8; k++) { c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1; }
      t[n] = c >>> 0;
    }
    return t;
  })();

  function crc32(bytes) {
    var c = 0xffffffff;
    for (var i = 0; i < bytes.length; i++) { c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8); }
    return (c ^ 0xffffffff) >>> 0;
  }

  function zip(files) {
    var encoder = new TextEncoder(), parts = [], central = [], offset = 0;
    var DOS_DATE = (0 << 9) | (1 << 5) | 1;  // 1980-01-01, as the Python writer: no clock in the file
    function header(sig, fields) {
      var size = fields.reduce(function (a, f) { return a + f[0]; }, 4);
      var buf = new DataView(new ArrayBuffer(size));
      buf.setUint32(0, sig, true);
      var at = 4;
      fields.forEach(function (f) {
        if (f[0] === 2) { buf.setUint16(at, f[1], true); } else { buf.setUint32(at, f[1], true); }
        at += f[0];
      });
      return new Uint8Array(buf.buffer);
    }
    Object.keys(files).forEach(function (name) {
      var data = encoder.encode(files[name]), path = encoder.encode(name), crc = crc32(data);
      var local = header(0x04034b50, [[2, 20], [2, 0x0800], [2, 0], [2, 0], [2, DOS_DATE], [4, crc],
                                      [4, data.length], [4, data.length], [2, path.length], [2, 0]]);
      central.push([header(0x02014b50, [[2, 20], [2, 20], [2, 0x0800], [2, 0], [2, 0], [2, DOS_DATE], [4, crc],
                                        [4, data.length], [4, data.length], [2, path.length], [2, 0], [2, 0],
                                        [2, 0], [2, 0], [4, 0], [4, offset]]), path]);
      parts.push(local, path, data);
      offset += local.length + path.length + data.length;
    });
    var size = 0;
    central.forEach(function (c) { parts.push(c[0], c[1]); size += c[0].length + c[1].length; });
    parts.push(header(0x06054b50, [[2, 0], [2, 0], [2, central.length], [2, central.length], [4, size],
                                   [4, offset], [2, 0]]));
    return new Blob(parts, { type: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" });
  }

  // recipe: {parts: {zip entry: text}, sheet: entry of the data sheet, columns: [{kind, style}], csv}
  window.parXlsx = function (recipe) {
    return gunzip(bytesOf(recipe.csv)).then(function (text) {
      var records = parseCsv(text).slice(1);  // the header row is in the sheet already
      var last = letter(Math.max(recipe.columns.length, 1) - 1) + (records.length + 1);
      var parts = Object.assign({}, recipe.parts);
      parts[recipe.sheet] = parts[recipe.sheet]
        .replace(/<dimension ref="A1:[A-Z]+\d+"\/>/, '<dimension ref="A1:' + last + '"/>')
        .replace(/<autoFilter ref="A1:[A-Z]+\d+"\/>/, '<autoFilter ref="A1:' + last + '"/>')
        .replace("</sheetData>", sheetRows(records, recipe.columns) + "</sheetData>");
      return zip(parts);
    });
  };
})();
