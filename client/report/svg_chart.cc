#include "client/report/svg_chart.h"

#include <algorithm>
#include <cstdio>

#include "absl/strings/str_cat.h"

namespace rat::report_internal {
namespace {

// Chart geometry in SVG user units (pixels at 100% zoom).
constexpr double kWidth = 380;
constexpr double kHeight = 280;
constexpr double kLeft = 56;
constexpr double kRight = 12;
constexpr double kTop = 30;
constexpr double kBottom = 46;
constexpr double kPlotWidth = kWidth - kLeft - kRight;
constexpr double kPlotHeight = kHeight - kTop - kBottom;
constexpr int kTicks = 4;

constexpr char kReplacementCharacter[] = "\xEF\xBF\xBD";

std::string Number(double value, const char* format = "%.2f") {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), format, value);
  return buffer;
}

// Length of the valid UTF-8 sequence starting at text[i], or 0.
size_t Utf8SequenceLength(std::string_view text, size_t i) {
  const auto byte = [&](size_t k) {
    return static_cast<unsigned char>(text[k]);
  };
  const unsigned char lead = byte(i);
  size_t length = 0;
  if (lead >= 0xC2 && lead <= 0xDF) length = 2;
  if (lead >= 0xE0 && lead <= 0xEF) length = 3;
  if (lead >= 0xF0 && lead <= 0xF4) length = 4;
  if (length == 0 || i + length > text.size()) return 0;
  for (size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
  }
  // Overlong forms, UTF-16 surrogates and code points above U+10FFFF.
  const unsigned char second = byte(i + 1);
  if (lead == 0xE0 && second < 0xA0) return 0;
  if (lead == 0xED && second >= 0xA0) return 0;
  if (lead == 0xF0 && second < 0x90) return 0;
  if (lead == 0xF4 && second >= 0x90) return 0;
  return length;
}

double PlotX(const ChartOptions& options, double x) {
  const double t = (x - options.x_min) / (options.x_max - options.x_min);
  return kLeft + std::clamp(t, 0.0, 1.0) * kPlotWidth;
}

double PlotY(const ChartOptions& options, double y) {
  const double t = (y - options.y_min) / (options.y_max - options.y_min);
  return kTop + (1 - std::clamp(t, 0.0, 1.0)) * kPlotHeight;
}

// Opening tag, title, axes with tick labels and axis labels.
std::string ChartFrame(const ChartOptions& options) {
  std::string svg = absl::StrCat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart ",
      EscapeXml(options.css_class), "\" width=\"", Number(kWidth, "%.0f"),
      "\" height=\"", Number(kHeight, "%.0f"), "\" viewBox=\"0 0 ",
      Number(kWidth, "%.0f"), " ", Number(kHeight, "%.0f"), "\">\n");
  absl::StrAppend(&svg, "<text x=\"", Number(kWidth / 2),
                  "\" y=\"18\" class=\"title\">", EscapeXml(options.title),
                  "</text>\n");
  absl::StrAppend(&svg, "<rect x=\"", Number(kLeft), "\" y=\"", Number(kTop),
                  "\" width=\"", Number(kPlotWidth), "\" height=\"",
                  Number(kPlotHeight), "\" class=\"plot\"/>\n");

  for (int i = 0; i <= kTicks; ++i) {
    const double fraction = static_cast<double>(i) / kTicks;
    const double x_value =
        options.x_min + fraction * (options.x_max - options.x_min);
    const double y_value =
        options.y_min + fraction * (options.y_max - options.y_min);
    absl::StrAppend(&svg, "<text x=\"", Number(PlotX(options, x_value)),
                    "\" y=\"", Number(kTop + kPlotHeight + 16),
                    "\" class=\"tick\">", Number(x_value, "%.3g"), "</text>\n");
    absl::StrAppend(&svg, "<text x=\"", Number(kLeft - 4), "\" y=\"",
                    Number(PlotY(options, y_value) + 4), "\" class=\"tick y\">",
                    Number(y_value, "%.3g"), "</text>\n");
  }
  absl::StrAppend(&svg, "<text x=\"", Number(kLeft + kPlotWidth / 2), "\" y=\"",
                  Number(kHeight - 8), "\" class=\"label\">",
                  EscapeXml(options.x_label), "</text>\n");
  absl::StrAppend(&svg, "<text x=\"14\" y=\"", Number(kTop + kPlotHeight / 2),
                  "\" class=\"label\" transform=\"rotate(-90 14 ",
                  Number(kTop + kPlotHeight / 2), ")\">",
                  EscapeXml(options.y_label), "</text>\n");
  return svg;
}

std::string LegendEntry(const ChartOptions& options, int index,
                        const std::string& name, const std::string& color) {
  const double x = options.legend == LegendCorner::kTopLeft
                       ? kLeft + 10
                       : kLeft + kPlotWidth - 110;
  const double first_y = options.legend == LegendCorner::kBottomRight
                             ? kTop + kPlotHeight - 40
                             : kTop + 12;
  const double y = first_y + 14 * index;
  return absl::StrCat("<rect x=\"", Number(x), "\" y=\"", Number(y - 8),
                      "\" width=\"10\" height=\"10\" fill=\"", EscapeXml(color),
                      "\"/>\n<text x=\"", Number(x + 14), "\" y=\"", Number(y),
                      "\" class=\"legend\">", EscapeXml(name), "</text>\n");
}

}  // namespace

std::string EscapeXml(std::string_view text) {
  std::string escaped;
  escaped.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      const size_t length = Utf8SequenceLength(text, i);
      // U+FFFE and U+FFFF are valid UTF-8 but not XML characters.
      const bool non_character =
          length == 3 && text.substr(i, 2) == "\xEF\xBF" &&
          static_cast<unsigned char>(text[i + 2]) >= 0xBE;
      if (length == 0) {
        escaped += kReplacementCharacter;
        ++i;
      } else if (non_character) {
        escaped += kReplacementCharacter;
        i += length;
      } else {
        escaped.append(text.substr(i, length));
        i += length;
      }
      continue;
    }
    switch (c) {
      case '&':
        escaped += "&amp;";
        break;
      case '<':
        escaped += "&lt;";
        break;
      case '>':
        escaped += "&gt;";
        break;
      case '"':
        escaped += "&quot;";
        break;
      case '\'':
        escaped += "&apos;";
        break;
      case '\t':
      case '\n':
      case '\r':
        escaped += static_cast<char>(c);
        break;
      default:
        if (c < 0x20 || c == 0x7F) {
          escaped += kReplacementCharacter;
        } else {
          escaped += static_cast<char>(c);
        }
    }
    ++i;
  }
  return escaped;
}

std::vector<ChartPoint> Downsample(const std::vector<ChartPoint>& points,
                                   size_t max_points) {
  if (points.size() <= max_points || max_points < 2) return points;
  std::vector<ChartPoint> kept;
  kept.reserve(max_points);
  const double step = static_cast<double>(points.size() - 1) / (max_points - 1);
  for (size_t i = 0; i < max_points; ++i) {
    kept.push_back(points[static_cast<size_t>(i * step + 0.5)]);
  }
  return kept;
}

std::string LineChartSvg(const ChartOptions& options,
                         const std::vector<ChartSeries>& series) {
  std::string svg = ChartFrame(options);
  for (size_t s = 0; s < series.size(); ++s) {
    std::string coordinates;
    for (const ChartPoint& point : series[s].points) {
      absl::StrAppend(&coordinates, coordinates.empty() ? "" : " ",
                      Number(PlotX(options, point.x)), ",",
                      Number(PlotY(options, point.y)));
    }
    absl::StrAppend(&svg, "<polyline class=\"series\" fill=\"none\" stroke=\"",
                    EscapeXml(series[s].color), "\"",
                    series[s].dashed ? " stroke-dasharray=\"5,4\"" : "",
                    " points=\"", coordinates, "\"/>\n");
    svg += LegendEntry(options, static_cast<int>(s), series[s].name,
                       series[s].color);
  }
  return svg + "</svg>\n";
}

std::string HistogramSvg(const ChartOptions& options,
                         const std::vector<HistogramSeries>& series) {
  std::string svg = ChartFrame(options);
  for (size_t s = 0; s < series.size(); ++s) {
    const std::vector<int64_t>& counts = series[s].counts;
    int64_t total = 0;
    for (int64_t count : counts) total += count;
    const double bin_width =
        (options.x_max - options.x_min) / std::max<size_t>(counts.size(), 1);
    for (size_t b = 0; b < counts.size() && total > 0; ++b) {
      const double share = static_cast<double>(counts[b]) / total;
      const double left = PlotX(options, options.x_min + b * bin_width);
      const double right = PlotX(options, options.x_min + (b + 1) * bin_width);
      const double top = PlotY(options, share);
      absl::StrAppend(&svg, "<rect class=\"bar\" x=\"", Number(left), "\" y=\"",
                      Number(top), "\" width=\"", Number(right - left),
                      "\" height=\"", Number(kTop + kPlotHeight - top),
                      "\" fill=\"", EscapeXml(series[s].color), "\"/>\n");
    }
    svg += LegendEntry(options, static_cast<int>(s), series[s].name,
                       series[s].color);
  }
  return svg + "</svg>\n";
}

}  // namespace rat::report_internal
