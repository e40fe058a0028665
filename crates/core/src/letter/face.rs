//! The handout's faces: which fonts it embeds, and the fixed resource ID
//! each has in the PDF. A module of their own: the layout and the shaper
//! both name faces, and so neither imports the other for them.

use printpdf::FontId;

static SANS: &[u8] = include_bytes!("../../fonts/DejaVuSans.ttf");
static SANS_BOLD: &[u8] = include_bytes!("../../fonts/DejaVuSans-Bold.ttf");
static MONO: &[u8] = include_bytes!("../../fonts/DejaVuSansMono.ttf");
static NASKH: &[u8] = include_bytes!("../../fonts/NotoNaskhArabic-Regular.ttf");
static NASKH_BOLD: &[u8] = include_bytes!("../../fonts/NotoNaskhArabic-Bold.ttf");
static ETHIOPIC: &[u8] = include_bytes!("../../fonts/NotoSansEthiopic-Regular.ttf");
static ETHIOPIC_BOLD: &[u8] = include_bytes!("../../fonts/NotoSansEthiopic-Bold.ttf");

/// The faces of the handout. The layout asks for the first three: DejaVu
/// covers Latin Extended, Greek and Cyrillic, and its monospaced face draws
/// 0/O and 1/l/I distinctly, which the credentials' alphabet relies on as
/// well. Arabic-script and Ethiopic characters are set in the Noto faces
/// instead ([`super::shape::face_for`]): Noto Naskh Arabic, the book hand Arabic
/// and Persian readers learn to read in (with the Persian letters and the
/// lam-alef ligatures), and Noto Sans Ethiopic for Tigrinya.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Face {
    Regular,
    Bold,
    Mono,
    Arabic,
    ArabicBold,
    Ethiopic,
    EthiopicBold,
}

impl Face {
    pub const ALL: [Face; 7] =
        [Face::Regular, Face::Bold, Face::Mono, Face::Arabic, Face::ArabicBold, Face::Ethiopic, Face::EthiopicBold];

    /// A fixed resource id: random ids would make the bytes differ between
    /// runs. Its first six letters become the subset tag (`SKRREG+DejaVuSans`).
    pub fn id(self) -> FontId {
        FontId(
            match self {
                Face::Regular => "SKRREG",
                Face::Bold => "SKRBLD",
                Face::Mono => "SKRMON",
                Face::Arabic => "SKRARA",
                Face::ArabicBold => "SKRARB",
                Face::Ethiopic => "SKRETH",
                Face::EthiopicBold => "SKRETB",
            }
            .to_owned(),
        )
    }

    /// The face's TrueType file, as embedded.
    pub fn bytes(self) -> &'static [u8] {
        match self {
            Face::Regular => SANS,
            Face::Bold => SANS_BOLD,
            Face::Mono => MONO,
            Face::Arabic => NASKH,
            Face::ArabicBold => NASKH_BOLD,
            Face::Ethiopic => ETHIOPIC,
            Face::EthiopicBold => ETHIOPIC_BOLD,
        }
    }
}
