//! Fonts, text measurement, line breaking and the drawing primitives the
//! handout is built from. Everything is in PDF points (1/72 inch) with the
//! origin at the page's lower left, as PDF has it.

use std::sync::OnceLock;

use printpdf::{Color, FontId, Greyscale, Op, ParsedFont, PdfFontHandle, Point, Pt, Rect, TextItem, TextMatrix};

/// A4 in points.
pub const PAGE_W: f32 = 595.28;
pub const PAGE_H: f32 = 841.89;

static SANS: &[u8] = include_bytes!("../../fonts/DejaVuSans.ttf");
static SANS_BOLD: &[u8] = include_bytes!("../../fonts/DejaVuSans-Bold.ttf");
static MONO: &[u8] = include_bytes!("../../fonts/DejaVuSansMono.ttf");

/// The three faces of the handout. DejaVu covers Latin Extended, Greek and
/// Cyrillic; the monospaced face draws 0/O and 1/l/I distinctly, which the
/// credentials' alphabet relies on as well.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Face {
    Regular,
    Bold,
    Mono,
}

impl Face {
    pub const ALL: [Face; 3] = [Face::Regular, Face::Bold, Face::Mono];

    /// A fixed resource id: random ids would make the bytes differ between
    /// runs. Its first six letters become the subset tag (`SKRREG+DejaVuSans`).
    pub fn id(self) -> FontId {
        FontId(
            match self {
                Face::Regular => "SKRREG",
                Face::Bold => "SKRBLD",
                Face::Mono => "SKRMON",
            }
            .to_owned(),
        )
    }
}

pub struct Fonts {
    regular: ParsedFont,
    bold: ParsedFont,
    mono: ParsedFont,
}

/// The parsed faces, once per process. `None` only if an embedded font
/// file is damaged (a build defect the letter tests catch).
pub fn fonts() -> Option<&'static Fonts> {
    static FONTS: OnceLock<Option<Fonts>> = OnceLock::new();
    FONTS
        .get_or_init(|| {
            let parse = |bytes: &[u8]| ParsedFont::from_bytes(bytes, 0, &mut Vec::new());
            Some(Fonts { regular: parse(SANS)?, bold: parse(SANS_BOLD)?, mono: parse(MONO)? })
        })
        .as_ref()
}

impl Fonts {
    pub fn parsed(&self, face: Face) -> &ParsedFont {
        match face {
            Face::Regular => &self.regular,
            Face::Bold => &self.bold,
            Face::Mono => &self.mono,
        }
    }

    /// The first character of `text` the face has no glyph for.
    pub fn missing_glyph(&self, face: Face, text: &str) -> Option<char> {
        let font = self.parsed(face);
        text.chars().find(|&c| !c.is_whitespace() && font.lookup_glyph_index(u32::from(c)).is_none())
    }

    /// The advance width of `text` at `size` points.
    pub fn width(&self, face: Face, text: &str, size: f32) -> f32 {
        let font = self.parsed(face);
        let upem = f32::from(font.pdf_font_metrics.units_per_em.max(1));
        let units: u32 = text
            .chars()
            .map(|c| font.lookup_glyph_index(u32::from(c)).map_or(0, |g| u32::from(font.get_horizontal_advance(g))))
            .sum();
        units as f32 * size / upem
    }

    /// Breaks `text` into lines no wider than `max` at word boundaries; a
    /// word wider than a line is split between characters.
    pub fn wrap(&self, face: Face, text: &str, size: f32, max: f32) -> Vec<String> {
        // Widths add up (the handout sets no kerning), so each word is
        // measured once.
        let space = self.width(face, " ", size);
        let mut lines = Vec::new();
        let mut line = String::new();
        let mut line_w = 0.0;
        for word in text.split_whitespace() {
            let word_w = self.width(face, word, size);
            if !line.is_empty() && line_w + space + word_w <= max {
                line.push(' ');
                line.push_str(word);
                line_w += space + word_w;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            if word_w <= max {
                line.push_str(word);
                line_w = word_w;
                continue;
            }
            // A word wider than the line is split between characters.
            line_w = 0.0;
            for c in word.chars() {
                let mut buf = [0u8; 4];
                let c_w = self.width(face, c.encode_utf8(&mut buf), size);
                if line_w + c_w > max && !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                    line_w = 0.0;
                }
                line.push(c);
                line_w += c_w;
            }
        }
        if !line.is_empty() {
            lines.push(line);
        }
        lines
    }
}

/// The ops of one page, with small helpers for what the handout draws.
#[derive(Default)]
pub struct Canvas {
    pub ops: Vec<Op>,
}

impl Canvas {
    /// One line of text with its baseline's left end at (`x`, `y`).
    pub fn text(&mut self, face: Face, size: f32, x: f32, y: f32, text: &str) {
        self.ops.extend([
            Op::StartTextSection,
            Op::SetFont { font: PdfFontHandle::External(face.id()), size: Pt(size) },
            Op::SetTextCursor { pos: Point { x: Pt(x), y: Pt(y) } },
            Op::ShowText { items: vec![TextItem::Text(text.to_owned())] },
            Op::EndTextSection,
        ]);
    }

    /// Text rotated `degrees` counter-clockwise about its baseline start.
    pub fn rotated_text(&mut self, face: Face, size: f32, x: f32, y: f32, degrees: f32, text: &str) {
        let (sin, cos) = degrees.to_radians().sin_cos();
        self.ops.extend([
            Op::StartTextSection,
            Op::SetFont { font: PdfFontHandle::External(face.id()), size: Pt(size) },
            Op::SetTextMatrix { matrix: TextMatrix::Raw([cos, sin, -sin, cos, x, y]) },
            Op::ShowText { items: vec![TextItem::Text(text.to_owned())] },
            Op::EndTextSection,
        ]);
    }

    pub fn fill_grey(&mut self, level: f32) {
        self.ops.push(Op::SetFillColor { col: Color::Greyscale(Greyscale { percent: level, icc_profile: None }) });
    }

    pub fn stroke_grey(&mut self, level: f32, width: f32) {
        self.ops.push(Op::SetOutlineColor { col: Color::Greyscale(Greyscale { percent: level, icc_profile: None }) });
        self.ops.push(Op::SetOutlineThickness { pt: Pt(width) });
    }

    /// A filled rectangle with its lower left corner at (`x`, `y`).
    pub fn fill_rect(&mut self, x: f32, y: f32, w: f32, h: f32) {
        let mut rect = Rect::from_xywh(Pt(x), Pt(y), Pt(w), Pt(h));
        rect.mode = Some(printpdf::PaintMode::Fill);
        self.ops.push(Op::DrawRectangle { rectangle: rect });
    }

    /// A rectangle's outline.
    pub fn stroke_rect(&mut self, x: f32, y: f32, w: f32, h: f32) {
        let mut rect = Rect::from_xywh(Pt(x), Pt(y), Pt(w), Pt(h));
        rect.mode = Some(printpdf::PaintMode::Stroke);
        self.ops.push(Op::DrawRectangle { rectangle: rect });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fonts_cover_latin_extended_greek_and_cyrillic() {
        let f = fonts().expect("embedded fonts parse");
        let sample = "ŁukaszŻółćÆrøØstergårdŞştefanȘțĂâΓεώργιοςΠαπαδόπουλοςДесиславаПетроваĖėŪūĶķ";
        for face in Face::ALL {
            assert_eq!(f.missing_glyph(face, sample), None, "{face:?}");
        }
    }

    #[test]
    fn wrapped_lines_never_exceed_the_width() {
        let f = fonts().unwrap();
        let text = "Vent, til din registrering er gennemført: dit login virker fra da, normalt fra den næste hverdag. \
                    Supercalifragilisticexpialidociousandevenlongerwordsthatdonotfit";
        let lines = f.wrap(Face::Regular, text, 9.0, 120.0);
        assert!(lines.len() > 3);
        assert!(lines.iter().all(|l| f.width(Face::Regular, l, 9.0) <= 120.0), "{lines:?}");
        assert_eq!(lines.join(" ").replace(' ', ""), text.replace(' ', ""));
    }

    #[test]
    fn monospaced_characters_all_have_the_same_width() {
        let f = fonts().unwrap();
        assert_eq!(f.width(Face::Mono, "iiii", 10.0), f.width(Face::Mono, "WWWW", 10.0));
    }
}
