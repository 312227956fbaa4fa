//! `#latency` and `#throughput`: the two plots every Jepsen user reads first,
//! drawn with `plotters` to SVG and embedded inline.
//!
//! Latency: one point per completed operation at (completion time, latency),
//! log-scale y, colour per function, shape per outcome (● ok, × fail, ▲ info).
//! Throughput: completions per second in time buckets, one line per outcome.
//! Fault intervals are shaded on both.
//!
//! The invariant that keeps a million-op run's page small: the latency plot
//! draws at most one point per (function, outcome, pixel cell) — a point
//! hidden under an identical one is not drawn, so the picture is the same and
//! every outlier still shows — and throughput has a fixed number of buckets.
//! plotters is built without font support; its SVG backend writes `<text>`
//! elements that the browser lays out, so labels still render.

use std::collections::HashSet;

use faultline_history::EventType;
use plotters::prelude::*;

use super::faults::Fault;
use super::ops::Ctx;

const W: u32 = 1000;
const H: u32 = 320;
/// Cells of the de-duplication grid for latency points.
const CELLS_X: f64 = 900.0;
const CELLS_Y: f64 = 280.0;
/// Buckets of the throughput plot.
const BUCKETS: usize = 120;

/// Colours per function, in order of first appearance.
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 111, 178),
    RGBColor(46, 139, 87),
    RGBColor(142, 68, 173),
    RGBColor(214, 137, 16),
    RGBColor(23, 162, 184),
    RGBColor(192, 57, 43),
    RGBColor(100, 100, 100),
    RGBColor(160, 120, 60),
];
const FAULT: RGBColor = RGBColor(240, 173, 78);

struct Point {
    t: f64,
    lat_ms: f64,
    f: usize,
    out: EventType,
}

fn points(ctx: &Ctx<'_>, fs: &mut Vec<String>) -> Vec<Point> {
    let mut pts = Vec::new();
    for op in ctx.h.ops() {
        let Some(c) = op.completion_pos else { continue };
        let (t0, t1) = (ctx.t(op.invoke_pos), ctx.t(c));
        let f = match fs.iter().position(|x| **x == *op.invoke.f) {
            Some(i) => i,
            None => {
                fs.push(op.invoke.f.to_string());
                fs.len() - 1
            }
        };
        pts.push(Point {
            t: t1,
            lat_ms: ((t1 - t0) * 1e3).max(1e-3),
            f,
            out: op.outcome(),
        });
    }
    pts
}

/// Both plot sections.
pub fn plots_section(ctx: &Ctx<'_>, faults: &[Fault]) -> String {
    if !ctx.timed {
        return "<section><h2>Latency and throughput</h2><div id=\"latency\"><p class=\"muted\">The history records no times, so there is no latency to plot.</p></div><div id=\"throughput\"></div></section>".to_owned();
    }
    let mut fs = Vec::new();
    let pts = points(ctx, &mut fs);
    let lat = latency_svg(&pts, &fs, faults, ctx.end).unwrap_or_else(|e| {
        format!(
            "<p class=\"warn\">latency plot failed: {}</p>",
            crate::escape::esc(&e)
        )
    });
    let thr = throughput_svg(&pts, faults, ctx.end).unwrap_or_else(|e| {
        format!(
            "<p class=\"warn\">throughput plot failed: {}</p>",
            crate::escape::esc(&e)
        )
    });
    format!(
        "<section><h2>Latency <span class=\"muted\">per operation, log scale; ● ok × fail ▲ info; faults shaded</span></h2><div id=\"latency\" class=\"plot\">{lat}</div>\
         <h2>Throughput <span class=\"muted\">completions per second by outcome</span></h2><div id=\"throughput\" class=\"plot\">{thr}</div></section>"
    )
}

fn shade<DB: DrawingBackend>(
    chart: &mut ChartContext<
        '_,
        DB,
        Cartesian2d<plotters::coord::types::RangedCoordf64, impl Ranged<ValueType = f64>>,
    >,
    faults: &[Fault],
    y0: f64,
    y1: f64,
) -> Result<(), String> {
    chart
        .draw_series(
            faults
                .iter()
                .map(|f| Rectangle::new([(f.t0, y0), (f.t1, y1)], FAULT.mix(0.18).filled())),
        )
        .map_err(|e| e.to_string())?;
    Ok(())
}

fn latency_svg(pts: &[Point], fs: &[String], faults: &[Fault], end: f64) -> Result<String, String> {
    let mut svg = String::new();
    let end = end.max(1e-3);
    let (lo, hi) = pts.iter().fold((f64::INFINITY, 0f64), |(lo, hi), p| {
        (lo.min(p.lat_ms), hi.max(p.lat_ms))
    });
    let (lo, hi) = if pts.is_empty() {
        (0.01, 10.0)
    } else {
        (lo / 1.5, hi * 1.5)
    };
    {
        let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..end, (lo..hi).log_scale())
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc("time (s)")
            .y_desc("latency (ms)")
            .light_line_style(RGBColor(240, 240, 240))
            .draw()
            .map_err(|e| e.to_string())?;
        shade(&mut chart, faults, lo, hi)?;
        let (llo, lhi) = (lo.ln(), hi.ln());
        let mut seen: HashSet<(usize, u8, u32, u32)> = HashSet::new();
        let mut kept: Vec<&Point> = Vec::new();
        for p in pts {
            let cx = (p.t / end * CELLS_X) as u32;
            let cy = ((p.lat_ms.ln() - llo) / (lhi - llo) * CELLS_Y) as u32;
            let o = match p.out {
                EventType::Ok => 0,
                EventType::Fail => 1,
                _ => 2,
            };
            if seen.insert((p.f, o, cx, cy)) {
                kept.push(p);
            }
        }
        for (fi, name) in fs.iter().enumerate() {
            let c = PALETTE[fi % PALETTE.len()];
            let mine = || kept.iter().filter(move |p| p.f == fi);
            chart
                .draw_series(
                    mine()
                        .filter(|p| p.out == EventType::Ok)
                        .map(|p| Circle::new((p.t, p.lat_ms), 2, c.mix(0.7).filled())),
                )
                .map_err(|e| e.to_string())?
                .label(name.clone())
                .legend(move |(x, y)| Circle::new((x, y), 4, c.filled()));
            chart
                .draw_series(
                    mine()
                        .filter(|p| p.out == EventType::Fail)
                        .map(|p| Cross::new((p.t, p.lat_ms), 3, c.stroke_width(1))),
                )
                .map_err(|e| e.to_string())?;
            chart
                .draw_series(
                    mine()
                        .filter(|p| p.out == EventType::Info)
                        .map(|p| TriangleMarker::new((p.t, p.lat_ms), 3, c.filled())),
                )
                .map_err(|e| e.to_string())?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(200, 200, 200))
            .draw()
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(responsive(svg))
}

fn throughput_svg(pts: &[Point], faults: &[Fault], end: f64) -> Result<String, String> {
    let end = end.max(1e-3);
    let width = end / BUCKETS as f64;
    let mut counts = [
        vec![0u32; BUCKETS],
        vec![0u32; BUCKETS],
        vec![0u32; BUCKETS],
    ];
    for p in pts {
        let b = ((p.t / width) as usize).min(BUCKETS - 1);
        let o = match p.out {
            EventType::Ok => 0,
            EventType::Fail => 1,
            _ => 2,
        };
        counts[o][b] += 1;
    }
    let max = counts
        .iter()
        .flat_map(|c| c.iter())
        .copied()
        .max()
        .unwrap_or(0) as f64
        / width;
    let top = (max * 1.1).max(1.0);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..end, 0f64..top)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc("time (s)")
            .y_desc("ops/s")
            .light_line_style(RGBColor(240, 240, 240))
            .draw()
            .map_err(|e| e.to_string())?;
        shade(&mut chart, faults, 0.0, top)?;
        const STYLES: [(&str, RGBColor); 3] = [
            ("ok", RGBColor(92, 184, 92)),
            ("fail", RGBColor(217, 83, 79)),
            ("info", RGBColor(240, 173, 78)),
        ];
        for (o, &(name, c)) in STYLES.iter().enumerate() {
            if counts[o].iter().all(|&n| n == 0) {
                continue;
            }
            let series = counts[o]
                .iter()
                .enumerate()
                .map(|(b, &n)| ((b as f64 + 0.5) * width, n as f64 / width));
            chart
                .draw_series(LineSeries::new(series, c.stroke_width(2)))
                .map_err(|e| e.to_string())?
                .label(name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], c.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(200, 200, 200))
            .draw()
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(responsive(svg))
}

/// Lets the SVG shrink with the page: a viewBox and a relative width.
fn responsive(svg: String) -> String {
    svg.replacen(
        &format!("<svg width=\"{W}\" height=\"{H}\""),
        &format!(
            "<svg width=\"100%\" viewBox=\"0 0 {W} {H}\" preserveAspectRatio=\"xMinYMin meet\""
        ),
        1,
    )
}
