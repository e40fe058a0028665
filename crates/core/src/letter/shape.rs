//! Text that needs more than one glyph per character in logical order:
//! Arabic-script text (joining forms, the lam-alef ligature, right-to-left
//! order) and Ethiopic, and any line that mixes them with Latin.
//!
//! printpdf's `TextItem::Text`, which the rest of the handout uses, maps each
//! character through the font's cmap to one glyph and lays the glyphs out
//! left to right: Arabic would print as isolated letters in reverse order.
//! (Its HTML layout engine shapes, but it is a page layout of its own, not a
//! line-at-a-time API, and it drops GPOS mark anchors.) So this module
//! shapes with allsorts (the OpenType shaper printpdf already depends on, so
//! no new crate: GSUB with its Arabic joining, GPOS, cursive and mark
//! attachment) and orders with unicode-bidi (the Unicode Bidirectional
//! Algorithm, also already in the graph), and hands printpdf glyph ids at
//! absolute positions (`TextItem::GlyphIds`, each with the text it stands
//! for, which becomes the PDF's ToUnicode map).
//!
//! The pieces: each character is given a face ([`face_for`]: the Arabic or
//! Ethiopic face for those scripts, the requested DejaVu face otherwise;
//! spaces and punctuation stay with the script around them); the line is
//! split into bidi runs in visual order, each run into face runs, each face
//! run shaped in logical order and, in a right-to-left run, placed from the
//! right.

use std::sync::Mutex;

use allsorts::binary::read::ReadScope;
use allsorts::font::MatchingPresentation;
use allsorts::font_data::{DynamicFontTableProvider, FontData};
use allsorts::glyph_position::{GlyphLayout, TextDirection};
use allsorts::gsub::{FeatureMask, FeatureMaskExt};
use unicode_bidi::{BidiClass, Level, ParagraphBidiInfo};

use super::face::Face;

/// The direction a line is set in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    /// Left to right (Danish, English, Tigrinya, ...).
    Ltr,
    /// Right to left (Arabic, Persian): the line reads from its right end.
    Rtl,
    /// From the text's first strong character (a name in any script).
    Auto,
}

/// One glyph placed on a line: `x` from the line's left end and `y` from
/// its baseline, in points.
#[derive(Clone, Debug, PartialEq)]
pub struct Glyph {
    pub face: Face,
    pub gid: u16,
    pub x: f32,
    pub y: f32,
    /// The characters this glyph stands for in logical order (several for
    /// a ligature; empty for a glyph the shaper inserted or split off).
    pub text: String,
}

/// A shaped line: its glyphs left to right and its advance width.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ShapedLine {
    pub glyphs: Vec<Glyph>,
    pub width: f32,
}

/// The script of a character, for the scripts the DejaVu faces do not set
/// well (Arabic: DejaVu has the letters, but no Naskh design and no Persian
/// forms of the Bold face) or at all (Ethiopic). `None` for everything else.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Script {
    Arabic,
    Ethiopic,
}

/// The blocks of the Arabic script (Arabic, Supplement, Extended-A and the
/// presentation forms) and of Ethiopic (with Supplement and Extended(-A)).
pub fn script_of(c: char) -> Option<Script> {
    match u32::from(c) {
        0x0600..=0x06FF | 0x0750..=0x077F | 0x0870..=0x08FF | 0xFB50..=0xFDFF | 0xFE70..=0xFEFF => Some(Script::Arabic),
        0x1200..=0x139F | 0x2D80..=0x2DDF | 0xAB00..=0xAB2F => Some(Script::Ethiopic),
        _ => None,
    }
}

/// The face a script's characters are set in, for a requested face.
pub fn script_face(face: Face, script: Script) -> Face {
    let bold = face == Face::Bold;
    match (script, bold) {
        (Script::Arabic, false) => Face::Arabic,
        (Script::Arabic, true) => Face::ArabicBold,
        (Script::Ethiopic, false) => Face::Ethiopic,
        (Script::Ethiopic, true) => Face::EthiopicBold,
    }
}

/// A character that belongs to no script of its own: spaces, punctuation,
/// digits, the joiner controls (ZWNJ, which Persian needs inside words).
fn is_neutral(c: char) -> bool {
    !c.is_alphabetic() && script_of(c).is_none()
}

/// Whether a text needs this module: a character of a script set in its own
/// face, or one of right-to-left direction (Hebrew, which DejaVu covers,
/// needs the order even without shaping).
pub fn is_complex(text: &str) -> bool {
    text.chars().any(|c| {
        script_of(c).is_some() || matches!(unicode_bidi::bidi_class(c), BidiClass::R | BidiClass::AL | BidiClass::AN)
    })
}

/// The face of each character of `text` (requested `face`): script
/// characters their script's face; a neutral character the face of the
/// script character before it (else after it) when that face has a glyph
/// for it, so that the spaces and commas of an Arabic sentence are Arabic;
/// everything else `face`. The monospaced face keeps every character.
pub fn face_for(text: &str, face: Face, has_glyph: impl Fn(Face, char) -> bool) -> Vec<Face> {
    let chars: Vec<char> = text.chars().collect();
    let strong: Vec<Option<Face>> = chars
        .iter()
        .map(|&c| match (face, script_of(c)) {
            (Face::Mono, _) => Some(Face::Mono),
            (_, Some(s)) => Some(script_face(face, s)),
            (_, None) if is_neutral(c) => None,
            (_, None) => Some(face),
        })
        .collect();
    (0..chars.len())
        .map(|i| {
            strong[i].unwrap_or_else(|| {
                let before = strong[..i].iter().rev().flatten().next();
                let after = strong[i + 1..].iter().flatten().next();
                [before, after]
                    .into_iter()
                    .flatten()
                    .copied()
                    .find(|&f| f != face && has_glyph(f, chars[i]))
                    .unwrap_or(face)
            })
        })
        .collect()
}

/// The mirrored form of a paired punctuation mark, for right-to-left runs
/// (Unicode's Bidi_Mirrored property, for the marks the catalogs can hold;
/// the fonts have no `rtlm` feature to do it).
fn mirrored(c: char) -> char {
    match c {
        '(' => ')',
        ')' => '(',
        '[' => ']',
        ']' => '[',
        '{' => '}',
        '}' => '{',
        '<' => '>',
        '>' => '<',
        '«' => '»',
        '»' => '«',
        '‹' => '›',
        '›' => '‹',
        _ => c,
    }
}

/// The OpenType script tag a face is shaped with.
fn script_tag(face: Face) -> u32 {
    match face {
        Face::Arabic | Face::ArabicBold => u32::from_be_bytes(*b"arab"),
        Face::Ethiopic | Face::EthiopicBold => u32::from_be_bytes(*b"ethi"),
        Face::Regular | Face::Bold | Face::Mono => u32::from_be_bytes(*b"DFLT"),
    }
}

type OtFont = allsorts::Font<DynamicFontTableProvider<'static>>;

/// allsorts' view of each face (it caches its tables, hence the lock).
pub struct Shapers {
    fonts: Mutex<Vec<(Face, OtFont)>>,
}

impl Shapers {
    /// Parses each face's tables; `None` if an embedded font is damaged.
    pub fn new(faces: &[(Face, &'static [u8])]) -> Option<Shapers> {
        let mut fonts = Vec::with_capacity(faces.len());
        for &(face, bytes) in faces {
            let data = ReadScope::new(bytes).read::<FontData<'static>>().ok()?;
            let provider = data.table_provider(0).ok()?;
            fonts.push((face, allsorts::Font::new(provider).ok()?));
        }
        Some(Shapers { fonts: Mutex::new(fonts) })
    }

    /// Shapes one line of `text` in `face` at `size` points, set in
    /// direction `dir`. `has_glyph` and `upem` come from the PDF's fonts.
    pub fn line(
        &self,
        text: &str,
        face: Face,
        size: f32,
        dir: Dir,
        has_glyph: impl Fn(Face, char) -> bool,
    ) -> ShapedLine {
        if text.is_empty() {
            return ShapedLine::default();
        }
        let faces = face_for(text, face, has_glyph);
        let byte_face: Vec<(usize, Face)> = text.char_indices().map(|(b, _)| b).zip(faces).collect();
        // Visual runs: (logical byte range, right to left?), left to right.
        let runs: Vec<(std::ops::Range<usize>, bool)> = if face == Face::Mono {
            // The number, username and password are one left-to-right run
            // whatever surrounds them.
            vec![(0..text.len(), false)]
        } else {
            let level = match dir {
                Dir::Ltr => Some(Level::ltr()),
                Dir::Rtl => Some(Level::rtl()),
                Dir::Auto => None,
            };
            let info = ParagraphBidiInfo::new(text, level);
            let (levels, runs) = info.visual_runs(0..text.len());
            runs.into_iter().map(|r| (r.clone(), levels[r.start].is_rtl())).collect()
        };
        let mut fonts = self.fonts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut out = ShapedLine::default();
        for (range, rtl) in runs {
            // Face runs within the bidi run, in logical order.
            let mut pieces: Vec<(Face, std::ops::Range<usize>)> = Vec::new();
            for &(b, f) in byte_face.iter().filter(|(b, _)| range.contains(b)) {
                match pieces.last_mut() {
                    Some((pf, r)) if *pf == f => r.end = b + text[b..].chars().next().map_or(0, char::len_utf8),
                    _ => pieces.push((f, b..b + text[b..].chars().next().map_or(0, char::len_utf8))),
                }
            }
            if rtl {
                pieces.reverse();
            }
            for (f, r) in pieces {
                let Some((_, font)) = fonts.iter_mut().find(|(ff, _)| *ff == f) else { continue };
                let piece: String = if rtl { text[r].chars().map(mirrored).collect() } else { text[r].to_owned() };
                let width = shape_piece(font, f, &piece, size, rtl, out.width, &mut out.glyphs);
                out.width += width;
            }
        }
        out
    }
}

/// Shapes `text` (one face, one direction) and appends its glyphs, placed
/// from `x0` to the right, left to right; returns its advance width.
fn shape_piece(font: &mut OtFont, face: Face, text: &str, size: f32, rtl: bool, x0: f32, out: &mut Vec<Glyph>) -> f32 {
    let tag = script_tag(face);
    let glyphs = font.map_glyphs(text, tag, MatchingPresentation::NotRequired);
    // allsorts carries on past a table it cannot read, applying what it
    // can; the glyphs are then unshaped rather than lost.
    // Kerning in the Noto faces, as their designers space them (HarfBuzz
    // too); none in DejaVu, where the rest of the handout sets none.
    let kerning = !matches!(face, Face::Regular | Face::Bold | Face::Mono);
    let infos =
        font.shape(glyphs, tag, None, FeatureMask::default_mask(), &[], None, kerning).unwrap_or_else(|(_, i)| i);
    let direction = if rtl { TextDirection::RightToLeft } else { TextDirection::LeftToRight };
    let upem = f32::from(font.head_table.units_per_em.max(1));
    let Ok(positions) = GlyphLayout::new(font, &infos, direction, false).glyph_positions() else {
        return 0.0;
    };
    let scale = size / upem;
    let total: i32 = positions.iter().map(|p| p.hori_advance).sum();
    // In logical order the pen moves right (LTR) or left from the run's
    // right end (RTL); a glyph sits at the pen plus its offset.
    let mut pen: i32 = if rtl { total } else { 0 };
    let start = out.len();
    let chars: Vec<char> = text.chars().collect();
    let mut cursor = 0;
    for (info, pos) in infos.iter().zip(&positions) {
        if rtl {
            pen -= pos.hori_advance;
        }
        out.push(Glyph {
            face,
            gid: info.glyph.glyph_index,
            x: x0 + (pen + pos.x_offset) as f32 * scale,
            y: pos.y_offset as f32 * scale,
            text: own_text(&info.glyph.unicodes, &chars, &mut cursor),
        });
        if !rtl {
            pen += pos.hori_advance;
        }
    }
    if rtl {
        out[start..].reverse();
    }
    total as f32 * scale
}

/// The characters of `text` a glyph stands for, taken in logical order
/// from `cursor` on. A glyph can carry a character another glyph already
/// stands for: Noto Naskh splits "أ" into alef and hamza (ccmp) and joins
/// them again (a ligature of both halves, each marked "أ"); the text then
/// counts it once, so that the PDF's text reads as written. The joiner
/// controls have no glyph (the shaper drops them once they have broken or
/// made a join), so they are passed over.
fn own_text(unicodes: &[char], text: &[char], cursor: &mut usize) -> String {
    let mut own = String::new();
    for &u in unicodes {
        while matches!(text.get(*cursor), Some('\u{200C}' | '\u{200D}')) && u != text[*cursor] {
            *cursor += 1;
        }
        if text.get(*cursor) == Some(&u) {
            own.push(u);
            *cursor += 1;
        }
    }
    own
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arabic_and_ethiopic_letters_are_told_from_latin_and_neutrals() {
        assert_eq!(script_of('ب'), Some(Script::Arabic));
        assert_eq!(script_of('ی'), Some(Script::Arabic));
        assert_eq!(script_of('ሰ'), Some(Script::Ethiopic));
        assert_eq!(script_of('a'), None);
        assert!(is_neutral(' ') && is_neutral('\u{200C}') && is_neutral('4') && !is_neutral('ø'));
        assert!(is_complex("اسم") && is_complex("ሰላም") && is_complex("שלום"));
        assert!(!is_complex("Łukasz Żółć Γεώργιος Десислава 010190-4127"));
    }

    /// Spaces and punctuation between Arabic words are set in the Arabic
    /// face, Latin words in DejaVu, and the monospaced face keeps all.
    #[test]
    fn neutral_characters_follow_the_script_around_them() {
        let all = |_: Face, _: char| true;
        let faces = face_for("ab اب، تب x", Face::Bold, all);
        use Face::{ArabicBold as A, Bold as B};
        // The space after "ab" takes the Arabic word's face: "ab" is the requested face.
        assert_eq!(faces, [B, B, A, A, A, A, A, A, A, A, B]);
        assert!(face_for("اب 12", Face::Mono, all).iter().all(|&f| f == Face::Mono));
        // A neutral the script face lacks stays in the requested face.
        let no_at = |f: Face, c: char| !(f == Face::Arabic && c == '@');
        assert_eq!(face_for("ا@", Face::Regular, no_at), [Face::Arabic, Face::Regular]);
    }

    #[test]
    fn mirroring_swaps_paired_marks_only() {
        let s: String = "(a) «b» [c]".chars().map(mirrored).collect();
        assert_eq!(s, ")a( »b« ]c[");
    }
}
