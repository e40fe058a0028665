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

    /// The advance of each character of `text` at `size` points, as a
    /// [`Mark::Text`] sets them (one glyph per character from the cmap, no
    /// kerning): what a printer driver is told, so that its line has the
    /// PDF's widths whatever its own hinting makes of the face.
    pub fn advances(&self, face: Face, text: &str, size: f32) -> Vec<f32> {
        let font = self.parsed(face);
        let upem = f32::from(font.pdf_font_metrics.units_per_em.max(1));
        text.chars()
            .map(|c| {
                font.lookup_glyph_index(u32::from(c))
                    .map_or(0.0, |g| f32::from(font.get_horizontal_advance(g)) * size / upem)
            })
            .collect()
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

/// One thing drawn on the page: the handout as a display list that both
/// the PDF ([`Mark::pdf_ops`]) and a printer driver's page (`print`'s GDI
/// path on Windows) are made from, so that there is one layout, not two.
/// Coordinates in points from the page's lower left.
#[derive(Clone, Debug, PartialEq)]
pub enum Mark {
    /// Text as characters, one glyph each from the face's cmap, its
    /// baseline starting at (`x`, `y`) and turned `degrees` counter-clockwise.
    Text { face: Face, size: f32, x: f32, y: f32, degrees: f32, text: String },
    /// One shaped glyph by its id in `face`, its origin at (`x`, `y`);
    /// `text` is what it stands for (empty for a glyph the shaper made).
    Glyph { face: Face, size: f32, x: f32, y: f32, gid: u16, text: String },
    /// The grey level (0 black, 1 white) of the fills and text after it.
    FillGrey(f32),
    /// The grey level and line width (points) of the outlines after it.
    StrokeGrey { level: f32, width: f32 },
    /// A filled rectangle, its lower left corner at (`x`, `y`).
    FillRect { x: f32, y: f32, w: f32, h: f32 },
    /// A rectangle's outline.
    StrokeRect { x: f32, y: f32, w: f32, h: f32 },
}

impl Mark {
    /// Wipes the text it holds (the password is among the page's texts).
    pub fn wipe(&mut self) {
        if let Mark::Text { text, .. } | Mark::Glyph { text, .. } = self {
            zeroize::Zeroize::zeroize(text);
        }
    }

    /// The page's marks as printpdf's operations: consecutive glyphs share
    /// one text section, with the font set again only where the face changes.
    pub fn pdf_ops(marks: &[Mark]) -> Vec<Op> {
        let mut ops = Vec::with_capacity(marks.len() * 4);
        let mut in_glyphs: Option<Face> = None;
        for mark in marks {
            if in_glyphs.is_some() && !matches!(mark, Mark::Glyph { .. }) {
                ops.push(Op::EndTextSection);
                in_glyphs = None;
            }
            match mark {
                Mark::Text { face, size, x, y, degrees, text } => {
                    ops.push(Op::StartTextSection);
                    ops.push(Op::SetFont { font: PdfFontHandle::External(face.id()), size: Pt(*size) });
                    if *degrees == 0.0 {
                        ops.push(Op::SetTextCursor { pos: Point { x: Pt(*x), y: Pt(*y) } });
                    } else {
                        let (sin, cos) = degrees.to_radians().sin_cos();
                        ops.push(Op::SetTextMatrix { matrix: TextMatrix::Raw([cos, sin, -sin, cos, *x, *y]) });
                    }
                    ops.push(Op::ShowText { items: vec![TextItem::Text(text.clone())] });
                    ops.push(Op::EndTextSection);
                }
                Mark::Glyph { face, size, x, y, gid, text } => {
                    if in_glyphs.is_none() {
                        ops.push(Op::StartTextSection);
                    }
                    if in_glyphs != Some(*face) {
                        ops.push(Op::SetFont { font: PdfFontHandle::External(face.id()), size: Pt(*size) });
                        in_glyphs = Some(*face);
                    }
                    // An empty text maps the glyph to nothing in the ToUnicode map.
                    let cp = Codepoint::with_cid(*gid, 0.0, text.clone());
                    ops.push(Op::SetTextMatrix { matrix: TextMatrix::Raw([1.0, 0.0, 0.0, 1.0, *x, *y]) });
                    ops.push(Op::ShowText { items: vec![TextItem::GlyphIds(vec![cp])] });
                }
                Mark::FillGrey(level) => ops.push(Op::SetFillColor { col: grey(*level) }),
                Mark::StrokeGrey { level, width } => {
                    ops.push(Op::SetOutlineColor { col: grey(*level) });
                    ops.push(Op::SetOutlineThickness { pt: Pt(*width) });
                }
                Mark::FillRect { x, y, w, h } => ops.push(rect(*x, *y, *w, *h, printpdf::PaintMode::Fill)),
                Mark::StrokeRect { x, y, w, h } => ops.push(rect(*x, *y, *w, *h, printpdf::PaintMode::Stroke)),
            }
        }
        if in_glyphs.is_some() {
            ops.push(Op::EndTextSection);
        }
        ops
    }
}

fn grey(level: f32) -> Color {
    Color::Greyscale(Greyscale { percent: level, icc_profile: None })
}

fn rect(x: f32, y: f32, w: f32, h: f32, mode: printpdf::PaintMode) -> Op {
    let mut rectangle = Rect::from_xywh(Pt(x), Pt(y), Pt(w), Pt(h));
    rectangle.mode = Some(mode);
    Op::DrawRectangle { rectangle }
}

/// The marks of one page, with small helpers for what the handout draws.
pub struct Canvas {
    pub marks: Vec<Mark>,
    fonts: &'static Fonts,
}

impl Canvas {
    pub fn new(fonts: &'static Fonts) -> Canvas {
        Canvas { marks: Vec::new(), fonts }
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
        self.marks.push(Mark::Text { face, size, x, y, degrees: 0.0, text: text.to_owned() });
    }

    /// A shaped line's glyphs, each at its own place.
    pub fn glyphs(&mut self, size: f32, x: f32, y: f32, line: &ShapedLine) {
        for g in &line.glyphs {
            self.marks.push(Mark::Glyph {
                face: g.face,
                size,
                x: x + g.x,
                y: y + g.y,
                gid: g.gid,
                text: g.text.clone(),
            });
        }
    }

    /// Text rotated `degrees` counter-clockwise about its baseline start.
    pub fn rotated_text(&mut self, face: Face, size: f32, x: f32, y: f32, degrees: f32, text: &str) {
        self.marks.push(Mark::Text { face, size, x, y, degrees, text: text.to_owned() });
    }

    pub fn fill_grey(&mut self, level: f32) {
        self.marks.push(Mark::FillGrey(level));
    }

    pub fn stroke_grey(&mut self, level: f32, width: f32) {
        self.marks.push(Mark::StrokeGrey { level, width });
    }

    /// A filled rectangle with its lower left corner at (`x`, `y`).
    pub fn fill_rect(&mut self, x: f32, y: f32, w: f32, h: f32) {
        self.marks.push(Mark::FillRect { x, y, w, h });
    }

    /// A rectangle's outline.
    pub fn stroke_rect(&mut self, x: f32, y: f32, w: f32, h: f32) {
        self.marks.push(Mark::StrokeRect { x, y, w, h });
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
