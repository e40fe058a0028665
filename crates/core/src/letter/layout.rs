//! Fonts, text measurement, line breaking and the drawing primitives the
//! handout is built from. Everything is in PDF points (1/72 inch) with the
//! origin at the page's lower left, as PDF has it.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use printpdf::{Codepoint, Color, Greyscale, Op, ParsedFont, PdfFontHandle, Point, Pt, Rect, TextItem, TextMatrix};

pub use super::face::Face;
use super::shape::{self, Dir, ShapedLine, Shapers};

/// A4 in points.
pub const PAGE_W: f32 = 595.28;
pub const PAGE_H: f32 = 841.89;

pub struct Fonts {
    parsed: Vec<ParsedFont>,
    shapers: Shapers,
    /// Shaped words' widths at 1 pt (widths scale with the size), since
    /// the body is laid out at several sizes to find the one that fits.
    widths: Mutex<HashMap<(Face, String), f32>>,
}

/// The parsed faces, once per process. `None` only if an embedded font
/// file is damaged (a build defect the letter tests catch).
pub fn fonts() -> Option<&'static Fonts> {
    static FONTS: OnceLock<Option<Fonts>> = OnceLock::new();
    FONTS
        .get_or_init(|| {
            let parsed = Face::ALL
                .iter()
                .map(|f| ParsedFont::from_bytes(f.bytes(), 0, &mut Vec::new()))
                .collect::<Option<Vec<_>>>()?;
            let shapers = Shapers::new(&Face::ALL.map(|f| (f, f.bytes())))?;
            Some(Fonts { parsed, shapers, widths: Mutex::default() })
        })
        .as_ref()
}

impl Fonts {
    pub fn parsed(&self, face: Face) -> &ParsedFont {
        // `parsed` holds one font per face, in `Face::ALL` order.
        &self.parsed[Face::ALL.iter().position(|&f| f == face).unwrap_or(0)]
    }

    fn has_glyph(&self, face: Face, c: char) -> bool {
        self.parsed(face).lookup_glyph_index(u32::from(c)).is_some()
    }

    /// The first character of `text` that the face it is set in (see
    /// [`shape::face_for`]) has no glyph for. Whitespace and the
    /// zero-width joiner controls print as nothing and always pass.
    pub fn missing_glyph(&self, face: Face, text: &str) -> Option<char> {
        let faces = shape::face_for(text, face, |f, c| self.has_glyph(f, c));
        text.chars()
            .zip(faces)
            .find(|&(c, f)| !c.is_whitespace() && !matches!(c, '\u{200C}' | '\u{200D}') && !self.has_glyph(f, c))
            .map(|(c, _)| c)
    }

    /// `text` shaped as one line set in direction `dir`.
    pub fn shaped(&self, face: Face, text: &str, size: f32, dir: Dir) -> ShapedLine {
        self.shapers.line(text, face, size, dir, |f, c| self.has_glyph(f, c))
    }

    /// The advance width of `text` at `size` points.
    pub fn width(&self, face: Face, text: &str, size: f32) -> f32 {
        if shape::is_complex(text) {
            let mut cache = self.widths.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let key = (face, text.to_owned());
            let unit = *cache.entry(key).or_insert_with(|| self.shaped(face, text, 1.0, Dir::Auto).width);
            return unit * size;
        }
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
        // Widths add up (the handout sets no kerning, and no script joins
        // across a space), so each word is measured once.
        let mut lines = Vec::new();
        let mut line = String::new();
        let mut line_w = 0.0;
        for word in text.split_whitespace() {
            let word_w = self.width(face, word, size);
            let space = self.space_width(face, &line, word, size);
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

    /// The width of the space between the end of `before` and `word`: in
    /// an Arabic sentence it is the Arabic face's space.
    fn space_width(&self, face: Face, before: &str, word: &str, size: f32) -> f32 {
        let (Some(a), Some(b)) = (before.chars().next_back(), word.chars().next()) else { return 0.0 };
        let around: String = [a, ' ', b].iter().collect();
        let faces = shape::face_for(&around, face, |f, c| self.has_glyph(f, c));
        let font = self.parsed(faces[1]);
        let upem = f32::from(font.pdf_font_metrics.units_per_em.max(1));
        font.lookup_glyph_index(u32::from(' ')).map_or(0.0, |g| f32::from(font.get_horizontal_advance(g)) * size / upem)
    }
}

/// The ops of one page, with small helpers for what the handout draws.
pub struct Canvas {
    pub ops: Vec<Op>,
    fonts: &'static Fonts,
}

impl Canvas {
    pub fn new(fonts: &'static Fonts) -> Canvas {
        Canvas { ops: Vec::new(), fonts }
    }

    /// One line of text with its baseline's left end at (`x`, `y`), its
    /// direction from its first strong character.
    pub fn text(&mut self, face: Face, size: f32, x: f32, y: f32, text: &str) {
        self.text_dir(face, size, x, y, text, Dir::Auto);
    }

    /// One line of text set in direction `dir`, its left end at (`x`, `y`).
    /// Text in Arabic or Ethiopic script or of right-to-left direction is
    /// shaped (see [`shape`]) and placed glyph by glyph; other text is
    /// written as characters, as printpdf maps them.
    pub fn text_dir(&mut self, face: Face, size: f32, x: f32, y: f32, text: &str, dir: Dir) {
        if shape::is_complex(text) {
            let line = self.fonts.shaped(face, text, size, dir);
            self.glyphs(size, x, y, &line);
        } else {
            self.chars(face, size, x, y, text);
        }
    }

    /// Text as characters, one glyph each from the font's cmap, left to
    /// right: right for Latin, Greek and Cyrillic, wrong for Arabic.
    pub fn chars(&mut self, face: Face, size: f32, x: f32, y: f32, text: &str) {
        self.ops.extend([
            Op::StartTextSection,
            Op::SetFont { font: PdfFontHandle::External(face.id()), size: Pt(size) },
            Op::SetTextCursor { pos: Point { x: Pt(x), y: Pt(y) } },
            Op::ShowText { items: vec![TextItem::Text(text.to_owned())] },
            Op::EndTextSection,
        ]);
    }

    /// A shaped line's glyphs, each at its own place: printpdf merges a
    /// run on one baseline into one `TJ` whose kerns reproduce the places.
    pub fn glyphs(&mut self, size: f32, x: f32, y: f32, line: &ShapedLine) {
        let mut face = None;
        self.ops.push(Op::StartTextSection);
        for g in &line.glyphs {
            if face != Some(g.face) {
                self.ops.push(Op::SetFont { font: PdfFontHandle::External(g.face.id()), size: Pt(size) });
                face = Some(g.face);
            }
            // An empty text maps the glyph to nothing in the ToUnicode map.
            let cp = Codepoint::with_cid(g.gid, 0.0, g.text.clone());
            self.ops.extend([
                Op::SetTextMatrix { matrix: TextMatrix::Raw([1.0, 0.0, 0.0, 1.0, x + g.x, y + g.y]) },
                Op::ShowText { items: vec![TextItem::GlyphIds(vec![cp])] },
            ]);
        }
        self.ops.push(Op::EndTextSection);
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
        for face in [Face::Regular, Face::Bold, Face::Mono] {
            assert_eq!(f.missing_glyph(face, sample), None, "{face:?}");
        }
    }

    /// Names in Arabic script (with Persian letters) and Ge'ez print in the
    /// Noto faces; a script no face has is still refused.
    #[test]
    fn arabic_persian_and_ethiopic_names_are_printable() {
        let f = fonts().expect("embedded fonts parse");
        for name in ["محمد عبدالله", "فاطمه رضایی", "گل‌پری کوچک", "ኣማኑኤል ተስፋይ"]
        {
            for face in [Face::Regular, Face::Bold] {
                assert_eq!(f.missing_glyph(face, name), None, "{name} {face:?}");
            }
        }
        assert_eq!(f.missing_glyph(Face::Bold, "王小明"), Some('王'));
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
