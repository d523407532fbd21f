// Internal to rat_report: XML escaping and small inline-SVG charts for the
// HTML report. Every string that reaches the output goes through EscapeXml,
// so the page stays well-formed XML whatever the names contain.
#ifndef RAT_CLIENT_REPORT_SVG_CHART_H_
#define RAT_CLIENT_REPORT_SVG_CHART_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rat::report_internal {

// Escapes the five XML special characters. Characters that XML 1.0 forbids
// (control characters other than tab, line feed and carriage return, and
// U+FFFE/U+FFFF) and invalid UTF-8 sequences become U+FFFD.
std::string EscapeXml(std::string_view text);

struct ChartPoint {
  double x = 0;
  double y = 0;
};

// At most `max_points` points picked at evenly spaced indices, always
// keeping the first and the last. Shorter inputs are returned unchanged.
std::vector<ChartPoint> Downsample(const std::vector<ChartPoint>& points,
                                   size_t max_points);

struct ChartSeries {
  std::string name;   // legend text
  std::string color;  // CSS color, e.g. "#1f77b4"
  std::vector<ChartPoint> points;
  bool dashed = false;
};

// Plot corner that contains the legend. Charts pick the corner that their
// data usually leaves empty.
enum class LegendCorner { kTopLeft, kTopRight, kBottomRight };

// Axes, title and class of one chart. Data outside the ranges is clipped
// to the plot area.
struct ChartOptions {
  std::string css_class;  // identifies the chart kind, e.g. "roc"
  std::string title;
  std::string x_label;
  std::string y_label;
  double x_min = 0;
  double x_max = 1;
  double y_min = 0;
  double y_max = 1;
  LegendCorner legend = LegendCorner::kTopRight;
};

// An <svg> element with one polyline per series and a legend.
std::string LineChartSvg(const ChartOptions& options,
                         const std::vector<ChartSeries>& series);

// Bin counts of one group for a histogram chart. The chart draws the share
// of the group in each bin, so groups of different sizes compare directly.
struct HistogramSeries {
  std::string name;
  std::string color;
  std::vector<int64_t> counts;
};

// An <svg> element with semi-transparent bars per group over equal-width
// bins spanning [options.x_min, options.x_max].
std::string HistogramSvg(const ChartOptions& options,
                         const std::vector<HistogramSeries>& series);

}  // namespace rat::report_internal

#endif  // RAT_CLIENT_REPORT_SVG_CHART_H_
