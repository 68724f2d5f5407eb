/* Draws the server-built Plotly figures (dashboards, negotiation results). Each chart container
   names the json_script element holding its figure; without JavaScript the tables remain. */
(function () {
  "use strict";
  function draw() {
    if (typeof window.Plotly === "undefined") { return; }
    document.querySelectorAll(".chart[data-figure]").forEach(function (el) {
      var source = document.getElementById(el.dataset.figure);
      if (!source || el.dataset.drawn) { return; }
      var figure = JSON.parse(source.textContent);
      el.dataset.drawn = "1";
      window.Plotly.newPlot(el, figure.data, figure.layout, {
        // The mode bar styles itself with inline <style> elements, which the CSP blocks; the
        // tables and CSV downloads below each chart cover what it would offer.
        responsive: true, displayModeBar: false
      });
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
