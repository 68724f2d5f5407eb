/* The opinion map's declared-group filter: redraws the map with only the residents who
   declared the chosen group, and only the opinion groups whose overlap cell the page shows
   (the others are smaller than the study's minimum group size). Without JavaScript the map
   is not drawn at all, so the filter stays hidden and the tables carry the same figures. */
(function () {
  "use strict";
  function setup() {
    document.querySelectorAll("select[data-opinion-map]").forEach(function (select) {
      var chart = document.getElementById(select.dataset.opinionMap);
      if (!chart || typeof window.Plotly === "undefined") { return; }
      var figure = JSON.parse(document.getElementById(chart.dataset.figure).textContent);
      var allowed = JSON.parse(document.getElementById(chart.dataset.allowed).textContent);
      select.closest(".opinion-filter").hidden = false;
      select.addEventListener("change", function () {
        var group = select.value;
        var data = figure.data.map(function (trace) {
          if (group === "") { return trace; }
          var keep = (allowed[group] || []).indexOf(trace.meta) >= 0;
          var copy = Object.assign({}, trace, { x: [], y: [], customdata: [] });
          if (!keep) { return copy; }
          trace.customdata.forEach(function (declared, i) {
            if (declared.indexOf(Number(group)) >= 0) {
              copy.x.push(trace.x[i]); copy.y.push(trace.y[i]); copy.customdata.push(declared);
            }
          });
          return copy;
        });
        window.Plotly.react(chart, data, figure.layout);
      });
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setup);
  } else {
    setup();
  }
})();
