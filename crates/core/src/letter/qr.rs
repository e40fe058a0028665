//! The QR code to Jobnet's login page, drawn as filled rectangles so the
//! handout needs no image codec. Runs of dark modules in a row are merged
//! into one rectangle, which keeps the page's content stream small.

use qrcode::{Color, EcLevel, QrCode};

use super::layout::Canvas;

/// Where the handout sends the applicant to log in.
pub const JOBNET_URL: &str = "https://jobnet.dk";

/// Quiet zone around the symbol, in modules (the QR standard asks for 4).
const QUIET: usize = 4;

/// A horizontal run of dark modules: (row, first column, length), counted
/// in modules from the top left, quiet zone excluded.
pub type Run = (usize, usize, usize);

/// The symbol's width in modules and its dark runs, for `data`.
pub fn dark_runs(data: &str) -> Option<(usize, Vec<Run>)> {
    let code = QrCode::with_error_correction_level(data.as_bytes(), EcLevel::M).ok()?;
    let width = code.width();
    let colors = code.to_colors();
    let mut runs = Vec::new();
    for row in 0..width {
        let mut col = 0;
        while col < width {
            if colors[row * width + col] == Color::Dark {
                let start = col;
                while col < width && colors[row * width + col] == Color::Dark {
                    col += 1;
                }
                runs.push((row, start, col - start));
            } else {
                col += 1;
            }
        }
    }
    Some((width, runs))
}

/// Draws the symbol for `data` into a `size`-point square whose top left
/// corner is at (`x`, `top`), quiet zone included. Returns false (drawing
/// nothing) if the data does not fit a QR code, which a URL always does.
pub fn draw(canvas: &mut Canvas, data: &str, x: f32, top: f32, size: f32) -> bool {
    let Some((width, runs)) = dark_runs(data) else { return false };
    let module = size / (width + 2 * QUIET) as f32;
    canvas.fill_grey(0.0);
    for (row, col, len) in runs {
        let left = x + (QUIET + col) as f32 * module;
        let bottom = top - (QUIET + row + 1) as f32 * module;
        canvas.fill_rect(left, bottom, len as f32 * module, module);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_jobnet_code_is_a_small_symbol_with_finder_patterns() {
        let (width, runs) = dark_runs(JOBNET_URL).unwrap();
        assert!(width <= 29, "version 3 or lower, got {width} modules");
        // The top left finder pattern's first row is seven dark modules.
        assert!(runs.contains(&(0, 0, 7)));
        assert!(runs.iter().any(|&(r, c, l)| r == 0 && c == width - 7 && l == 7));
    }

    #[test]
    fn drawing_puts_every_module_inside_the_square() {
        let mut canvas = Canvas::new(crate::letter::layout::fonts().unwrap());
        assert!(draw(&mut canvas, JOBNET_URL, 100.0, 500.0, 80.0));
        let mut rects = 0;
        for mark in &canvas.marks {
            if let crate::letter::layout::Mark::FillRect { x, y, w, h } = *mark {
                assert!(x >= 100.0 && x + w <= 180.0 + 1e-3);
                assert!(y >= 420.0 - 1e-3 && y + h <= 500.0 + 1e-3);
                rects += 1;
            }
        }
        assert!(rects > 20, "{rects} modules drawn");
    }
}
