/* Cell renderers and formatters of the Spot grids. Presentation only: the rows arrive with their
   badge classes and hover texts already computed (spot_dash/components/grid.py). */
(function () {
  var e = React.createElement;
  var SHIELD = "M8 1 2 3.5v4.2c0 3.4 2.5 6.4 6 7.3 3.5-.9 6-3.9 6-7.3V3.5L8 1z";
  var GLOBE = "M8 1a7 7 0 1 0 0 14A7 7 0 0 0 8 1zm4.9 6.2h-2.2a11 11 0 0 0-.8-4 5.5 5.5 0 0 1 3 4zM8 2.6c.6.8 1.2 2.5 1.3 4.6H6.7C6.8 5.1 7.4 3.4 8 2.6zM6.1 3.2a11 11 0 0 0-.8 4H3.1a5.5 5.5 0 0 1 3-4zM3.1 8.8h2.2c.1 1.5.4 2.9.8 4a5.5 5.5 0 0 1-3-4zM8 13.4c-.6-.8-1.2-2.5-1.3-4.6h2.6c-.1 2.1-.7 3.8-1.3 4.6zm1.9-.6c.4-1.1.7-2.5.8-4h2.2a5.5 5.5 0 0 1-3 4z";

  function icon(path, cls, tip) {
    return e("span", {className: "cell-icon " + cls, title: tip, "aria-label": tip, role: "img"},
      e("svg", {viewBox: "0 0 16 16", width: 14, height: 14, "aria-hidden": "true"}, e("path", {d: path})));
  }

  var components = window.dashAgGridComponentFunctions = window.dashAgGridComponentFunctions || {};

  components.IpCell = function (params) {
    if (params.value === null || params.value === undefined) { return null; }
    var side = params.colDef.cellRendererParams.side;
    var d = params.data || {};
    var children = [e("span", {key: "b", className: "badge " + (d[side + "_badge"] || "rep0")}, String(params.value))];
    if (d[side + "_rep_tip"]) { children.push(e("span", {key: "r"}, icon(SHIELD, "shield " + d[side + "_badge"], d[side + "_rep_tip"]))); }
    if (d[side + "_geo_tip"]) { children.push(e("span", {key: "g"}, icon(GLOBE, "globe", d[side + "_geo_tip"]))); }
    return e("span", {className: "ip-cell"}, children);
  };

  components.RepCell = function (params) {
    var d = params.data || {};
    var children = [e("span", {key: "v", className: "rep-text"}, params.value === null ? "" : String(params.value))];
    if (d.rep_tip) { children.push(e("span", {key: "r"}, icon(SHIELD, "shield " + d.rep_badge, d.rep_tip))); }
    return e("span", {className: "ip-cell"}, children);
  };

  var funcs = window.dashAgGridFunctions = window.dashAgGridFunctions || {};
  funcs.spotNumber = function (value) {
    return (value === null || value === undefined) ? "" : Number(value).toLocaleString("en-US");
  };
  funcs.spotScore = function (value) {
    return (value === null || value === undefined) ? "" : Number(value).toExponential(3);
  };
})();
