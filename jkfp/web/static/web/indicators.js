/* 指标看板 charts (CSP forbids inline scripts): bars by sub-region and the monthly trend of one indicator. */
(function () {
  "use strict";
  var source = document.getElementById("chart-data");
  var select = document.getElementById("chart-indicator");
  if (!source || !select || typeof echarts === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  var barsEl = document.getElementById("chart-bars");
  var trendEl = document.getElementById("chart-trend");
  barsEl.style.height = "260px";
  trendEl.style.height = "260px";
  var bars = echarts.init(barsEl);
  var trend = echarts.init(trendEl);
  var months = ["1月", "2月", "3月", "4月", "5月", "6月", "7月", "8月", "9月", "10月", "11月", "12月"];

  function pct(v) { return v === null || v === undefined ? null : Math.round(v * 10000) / 100; }

  function colour(v, target) {
    if (v === null || target === null) { return "#6c757d"; }
    return v >= target * 100 ? "#198754" : (v >= target * 100 - 10 ? "#ffc107" : "#dc3545");
  }

  function draw(index) {
    var item = data.indicators[index];
    if (!item) { return; }
    var values = item.bars.map(pct);
    var markLine = item.target === null ? undefined :
      { silent: true, symbol: "none", data: [{ yAxis: item.target * 100, name: "目标" }] };
    bars.setOption({
      grid: { left: 40, right: 10, top: 20, bottom: 60 },
      tooltip: { trigger: "axis", valueFormatter: function (v) { return v === null ? "暂无数据" : v + "%"; } },
      xAxis: { type: "category", data: data.regions, axisLabel: { rotate: 45, fontSize: 10 } },
      yAxis: { type: "value", max: 100, axisLabel: { formatter: "{value}%" } },
      series: [{
        type: "bar", name: item.name,
        data: values.map(function (v) { return { value: v, itemStyle: { color: colour(v, item.target) } }; }),
        markLine: markLine
      }]
    }, true);
    var monthly = item.months ? item.months.map(pct) : [];
    trend.setOption({
      grid: { left: 40, right: 10, top: 20, bottom: 30 },
      title: item.months ? undefined : { text: "该指标无按月数据", left: "center", top: "middle", textStyle: { fontSize: 13, color: "#6c757d" } },
      tooltip: { trigger: "axis" },
      xAxis: { type: "category", data: months },
      yAxis: { type: "value", max: 100, axisLabel: { formatter: "{value}%" } },
      series: [{ type: "line", name: item.name, data: monthly, connectNulls: true, showSymbol: true, markLine: markLine }]
    }, true);
  }

  select.addEventListener("change", function () { draw(parseInt(select.value, 10)); });
  window.addEventListener("resize", function () { bars.resize(); trend.resize(); });
  draw(parseInt(select.value, 10) || 0);
}());
