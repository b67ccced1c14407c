// Sortable tables, as progressive enhancement. A sortable table's column headings are
// links (?sort=column) the server understands; with JavaScript on, a click sorts in
// place instead, toggles the direction and keeps the address in step.
(function () {
  "use strict";

  function cellValue(row, index, type) {
    var cell = row.cells[index];
    var raw = cell ? (cell.getAttribute("data-sort") || cell.textContent.trim()) : "";
    if (type === "number") {
      var value = parseFloat(raw);
      return isNaN(value) ? null : value;
    }
    return raw.toLowerCase();
  }

  function sortBy(table, th, direction) {
    var index = Array.prototype.indexOf.call(th.parentNode.cells, th);
    var type = th.getAttribute("data-sort-type") || "text";
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var sign = direction === "ascending" ? 1 : -1;
    rows.forEach(function (row, position) { row._position = position; });
    rows.sort(function (a, b) {
      var x = cellValue(a, index, type), y = cellValue(b, index, type);
      if (x === null || y === null) {  // missing figures last, either way
        return x === y ? a._position - b._position : (x === null ? 1 : -1);
      }
      if (x < y) return -sign;
      if (x > y) return sign;
      return a._position - b._position;
    });
    rows.forEach(function (row) { body.appendChild(row); });
    Array.prototype.forEach.call(th.parentNode.cells, function (cell) {
      if (cell.hasAttribute("aria-sort")) cell.setAttribute("aria-sort", "none");
    });
    th.setAttribute("aria-sort", direction);
    table.setAttribute("data-sorted-by", th.getAttribute("data-column") || String(index));
  }

  function enhance(table) {
    var headings = table.tHead ? table.tHead.rows[0].cells : [];
    Array.prototype.forEach.call(headings, function (th) {
      var link = th.querySelector("a");
      if (!th.hasAttribute("aria-sort") || !link) return;
      var column = new URL(link.href, window.location.href).searchParams.get("sort") || "";
      th.setAttribute("data-column", column.replace(/^-/, ""));
      link.addEventListener("click", function (event) {
        event.preventDefault();
        var current = th.getAttribute("aria-sort");
        var first = th.getAttribute("data-sort-first") || "ascending";
        var direction = current === "none" ? first
          : (current === "ascending" ? "descending" : "ascending");
        sortBy(table, th, direction);
        var url = new URL(window.location.href);
        var name = th.getAttribute("data-column");
        url.searchParams.set("sort", (direction === "descending" ? "-" : "") + name);
        window.history.replaceState(null, "", url);
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("table[data-sortable]").forEach(enhance);
  });
})();
