//! Windows printing through the printer's own driver.
//!
//! Office printers without a PDF interpreter print a RAW PDF job as pages of
//! garbage, or drop it. So the handout is not sent as PDF here: its page
//! (`letter`'s marks, the one layout the PDF is drawn from too) is drawn on
//! the printer's device context with GDI, and the driver turns that into
//! whatever its printer speaks (PCL, PostScript, XPS, …):
//!
//! - `OpenPrinterW` and `GetPrinterW` (level 2): a queue set to keep printed
//!   documents (`PRINTER_ATTRIBUTE_KEEPPRINTEDJOBS`, "Keep printed documents"
//!   in the queue's Advanced properties) is refused, since its spool would
//!   keep a copy of the password. A job cannot ask the spooler for this
//!   itself: the setting is the queue's.
//! - `DocumentPropertiesW`: the driver's defaults, with A4 portrait asked for.
//! - `CreateDCW` on that, `StartDocW` with the record's reference as the
//!   document name and no output file, one `StartPage`/`EndPage`, `EndDoc`;
//!   a failure on the way aborts the job (`AbortDoc`), so no half of a
//!   handout comes out.
//! - The handout's faces are added for this process only, from memory
//!   (`AddFontMemResourceEx`): nothing is installed, no font file written.
//!   Text is set with `ExtTextOutW`, each character at the advance the PDF
//!   gives it; shaped glyphs (Arabic, Ethiopic) by glyph index; the QR code
//!   and the boxes as filled and outlined rectangles.
//!
//! Nothing is written to a file by Skranke; the spooler's own spool file
//! lives until the job is printed, as with any document.
//!
//! Tested under Wine (`tests/windows/wine.rs`), whose PostScript driver
//! draws the job and hands it to CUPS: the test checks the driver's marks
//! in the printed PDF, so a RAW job could not pass it.

use std::collections::HashMap;

use windows_sys::Win32::Foundation::{HANDLE, RECT};
use windows_sys::Win32::Graphics::Gdi::{
    AddFontMemResourceEx, CreateDCW, CreateFontW, CreatePen, CreateSolidBrush, DeleteDC, DeleteObject, ExtTextOutW,
    GetDeviceCaps, GetStockObject, GetTextFaceW, RemoveFontMemResourceEx, SelectObject, SetBkMode, SetTextAlign,
    SetTextColor, DEFAULT_CHARSET, DEVMODEW, DMORIENT_PORTRAIT, DMPAPER_A4, DM_IN_BUFFER, DM_ORIENTATION,
    DM_OUT_BUFFER, DM_PAPERSIZE, ETO_GLYPH_INDEX, ETO_OPTIONS, FW_BOLD, FW_NORMAL, HDC, HFONT, HGDIOBJ, LOGPIXELSX,
    LOGPIXELSY, NULL_BRUSH, PHYSICALOFFSETX, PHYSICALOFFSETY, PS_INSIDEFRAME, TA_BASELINE, TA_LEFT, TRANSPARENT,
};
use windows_sys::Win32::Graphics::Printing::{
    ClosePrinter, DocumentPropertiesW, EnumPrintersW, GetPrinterW, OpenPrinterW, PRINTER_ATTRIBUTE_KEEPPRINTEDJOBS,
    PRINTER_ENUM_CONNECTIONS, PRINTER_ENUM_LOCAL, PRINTER_HANDLE, PRINTER_INFO_2W, PRINTER_INFO_4W,
};
use windows_sys::Win32::Storage::Xps::{AbortDoc, EndDoc, EndPage, StartDocW, StartPage, DOCINFOW};

use super::{check_title, check_windows_name, PrintError, Printer, SpooledJob};
use crate::letter::layout::{Face, Fonts, Mark, PAGE_H};
use crate::letter::Page;

fn wide(s: &str) -> Vec<u16> {
    s.encode_utf16().chain(std::iter::once(0)).collect()
}

/// A NUL-terminated UTF-16 string the system handed us.
///
/// # Safety
/// `p` is null or points at a NUL-terminated UTF-16 string.
unsafe fn from_wide(p: *const u16) -> String {
    if p.is_null() {
        return String::new();
    }
    let mut len = 0;
    while *p.add(len) != 0 {
        len += 1;
    }
    String::from_utf16_lossy(std::slice::from_raw_parts(p, len))
}

fn os_error(what: &str) -> PrintError {
    PrintError::Refused { detail: format!("{what}: {}", std::io::Error::last_os_error()) }
}

/// The names of the local printers and printer connections (level 4: from
/// the registry, without asking print servers, so it is quick).
pub fn printers() -> Result<Vec<String>, PrintError> {
    let flags = PRINTER_ENUM_LOCAL | PRINTER_ENUM_CONNECTIONS;
    let (mut needed, mut count) = (0u32, 0u32);
    // SAFETY: a first call with no buffer asks for the size; the second
    // fills a buffer of that size, 8-aligned for the structures in it,
    // whose strings point into the same buffer.
    unsafe {
        EnumPrintersW(flags, std::ptr::null(), 4, std::ptr::null_mut(), 0, &mut needed, &mut count);
        if needed == 0 {
            return Ok(Vec::new());
        }
        let mut buf = vec![0u64; (needed as usize).div_ceil(8)];
        if EnumPrintersW(flags, std::ptr::null(), 4, buf.as_mut_ptr().cast(), needed, &mut needed, &mut count) == 0 {
            return Err(PrintError::List { detail: format!("EnumPrinters: {}", std::io::Error::last_os_error()) });
        }
        let infos = std::slice::from_raw_parts(buf.as_ptr().cast::<PRINTER_INFO_4W>(), count as usize);
        Ok(infos.iter().map(|i| from_wide(i.pPrinterName)).filter(|n| !n.is_empty()).collect())
    }
}

/// An open printer handle, closed on drop.
struct Opened(PRINTER_HANDLE);

impl Opened {
    fn new(name: &[u16]) -> Result<Opened, PrintError> {
        let mut handle = PRINTER_HANDLE::default();
        // SAFETY: `name` is NUL-terminated UTF-16 that outlives the call.
        if unsafe { OpenPrinterW(name.as_ptr(), &mut handle, std::ptr::null()) } == 0 {
            return Err(os_error("OpenPrinter"));
        }
        Ok(Opened(handle))
    }

    /// The queue's attributes (`PRINTER_INFO_2W::Attributes`).
    fn attributes(&self) -> Result<u32, PrintError> {
        let mut needed = 0u32;
        // SAFETY: as in `printers`: size first, then an aligned buffer.
        unsafe {
            GetPrinterW(self.0, 2, std::ptr::null_mut(), 0, &mut needed);
            if needed == 0 {
                return Err(os_error("GetPrinter"));
            }
            let mut buf = vec![0u64; (needed as usize).div_ceil(8)];
            if GetPrinterW(self.0, 2, buf.as_mut_ptr().cast(), needed, &mut needed) == 0 {
                return Err(os_error("GetPrinter"));
            }
            Ok((*buf.as_ptr().cast::<PRINTER_INFO_2W>()).Attributes)
        }
    }

    /// The driver's default page setup with A4 portrait asked for, as an
    /// 8-aligned buffer holding a `DEVMODEW` and the driver's private part.
    fn a4_devmode(&self, name: &[u16]) -> Option<Vec<u64>> {
        // SAFETY: the size call, then a buffer of that size; the driver
        // validates the changed fields in the merge call.
        unsafe {
            let size = DocumentPropertiesW(
                std::ptr::null_mut(),
                self.0,
                name.as_ptr(),
                std::ptr::null_mut(),
                std::ptr::null(),
                0,
            );
            if size <= 0 {
                return None;
            }
            let mut buf = vec![0u64; (size as usize).div_ceil(8)];
            let dm = buf.as_mut_ptr().cast::<DEVMODEW>();
            if DocumentPropertiesW(std::ptr::null_mut(), self.0, name.as_ptr(), dm, std::ptr::null(), DM_OUT_BUFFER) < 0
            {
                return None;
            }
            (*dm).Anonymous1.Anonymous1.dmPaperSize = DMPAPER_A4 as i16;
            (*dm).Anonymous1.Anonymous1.dmOrientation = DMORIENT_PORTRAIT as i16;
            (*dm).dmFields |= DM_PAPERSIZE | DM_ORIENTATION;
            if DocumentPropertiesW(std::ptr::null_mut(), self.0, name.as_ptr(), dm, dm, DM_IN_BUFFER | DM_OUT_BUFFER)
                < 0
            {
                return None;
            }
            Some(buf)
        }
    }
}

impl Drop for Opened {
    fn drop(&mut self) {
        // SAFETY: the handle came from OpenPrinterW and is closed once.
        unsafe { ClosePrinter(self.0) };
    }
}

/// Refuses a queue that keeps printed documents.
pub fn check_keeps_no_copies(name: &str) -> Result<(), PrintError> {
    let attributes = Opened::new(&wide(name))?.attributes()?;
    if attributes & PRINTER_ATTRIBUTE_KEEPPRINTEDJOBS != 0 {
        return Err(PrintError::KeepsCopies { printer: name.to_owned() });
    }
    Ok(())
}

pub struct WindowsPrinter {
    name: String,
}

impl WindowsPrinter {
    pub fn new(name: &str) -> Result<WindowsPrinter, PrintError> {
        check_windows_name(name)?;
        Ok(WindowsPrinter { name: name.to_owned() })
    }
}

impl Printer for WindowsPrinter {
    fn print(&self, page: &Page) -> Result<SpooledJob, PrintError> {
        let title = page.reference();
        check_title(title)?;
        let name = wide(&self.name);
        let printer = Opened::new(&name)?;
        if printer.attributes()? & PRINTER_ATTRIBUTE_KEEPPRINTEDJOBS != 0 {
            return Err(PrintError::KeepsCopies { printer: self.name.clone() });
        }
        let devmode = printer.a4_devmode(&name);
        drop(printer);
        let dm = devmode.as_ref().map_or(std::ptr::null(), |b| b.as_ptr().cast::<DEVMODEW>());
        let driver = wide("WINSPOOL");
        // SAFETY: NUL-terminated strings and the DEVMODE outlive the call.
        let dc = unsafe { CreateDCW(driver.as_ptr(), name.as_ptr(), std::ptr::null(), dm) };
        if dc.is_null() {
            return Err(os_error("CreateDC"));
        }
        let fonts = FaceFonts::add(page.fonts());
        let outcome = fonts.and_then(|fonts| {
            let mut job = Job::start(dc, title)?;
            let drawn = Drawing::new(dc, &fonts).page(page.marks());
            match drawn {
                Ok(()) => job.finish(),
                Err(e) => {
                    job.abort();
                    Err(e)
                }
            }
        });
        // SAFETY: the DC was created above and its objects deselected.
        unsafe { DeleteDC(dc) };
        outcome
    }
}

/// A started document on a printer DC; aborted unless finished.
struct Job {
    dc: HDC,
    id: i32,
    open: bool,
}

impl Job {
    fn start(dc: HDC, title: &str) -> Result<Job, PrintError> {
        let doc_name = wide(title);
        let info = DOCINFOW {
            cbSize: std::mem::size_of::<DOCINFOW>() as i32,
            lpszDocName: doc_name.as_ptr(),
            lpszOutput: std::ptr::null(),
            lpszDatatype: std::ptr::null(),
            fwType: 0,
        };
        // SAFETY: the DC is valid; the document name outlives the call.
        let id = unsafe { StartDocW(dc, &info) };
        if id <= 0 {
            return Err(os_error("StartDoc"));
        }
        let mut job = Job { dc, id, open: true };
        // SAFETY: inside the document just started.
        if unsafe { StartPage(dc) } <= 0 {
            let e = os_error("StartPage");
            job.abort();
            return Err(e);
        }
        Ok(job)
    }

    fn finish(&mut self) -> Result<SpooledJob, PrintError> {
        self.open = false;
        // SAFETY: the page and document were started on this DC.
        unsafe {
            if EndPage(self.dc) <= 0 {
                let e = os_error("EndPage");
                AbortDoc(self.dc);
                return Err(e);
            }
            if EndDoc(self.dc) <= 0 {
                let e = os_error("EndDoc");
                AbortDoc(self.dc);
                return Err(e);
            }
        }
        Ok(SpooledJob { job_id: Some(self.id.to_string()) })
    }

    fn abort(&mut self) {
        if std::mem::take(&mut self.open) {
            // SAFETY: the document was started on this DC.
            unsafe { AbortDoc(self.dc) };
        }
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        self.abort();
    }
}

/// The handout's faces, added from memory for this process while a job
/// is drawn, removed on drop.
struct FaceFonts {
    handles: Vec<HANDLE>,
    metrics: &'static Fonts,
}

impl FaceFonts {
    fn add(metrics: &'static Fonts) -> Result<FaceFonts, PrintError> {
        let mut fonts = FaceFonts { handles: Vec::new(), metrics };
        for face in Face::ALL {
            let bytes = face.bytes();
            let mut count = 0u32;
            // SAFETY: the bytes are static; GDI copies them.
            let h = unsafe {
                AddFontMemResourceEx(bytes.as_ptr().cast(), bytes.len() as u32, std::ptr::null(), &mut count)
            };
            if h.is_null() || count == 0 {
                return Err(os_error("AddFontMemResourceEx"));
            }
            fonts.handles.push(h);
        }
        Ok(fonts)
    }
}

impl Drop for FaceFonts {
    fn drop(&mut self) {
        for &h in &self.handles {
            // SAFETY: each handle came from AddFontMemResourceEx.
            unsafe { RemoveFontMemResourceEx(h) };
        }
    }
}

/// A face's family and weight, as GDI's font mapper knows them.
fn family(face: Face) -> (&'static str, i32) {
    match face {
        Face::Regular => ("DejaVu Sans", FW_NORMAL as i32),
        Face::Bold => ("DejaVu Sans", FW_BOLD as i32),
        Face::Mono => ("DejaVu Sans Mono", FW_NORMAL as i32),
        Face::Arabic => ("Noto Naskh Arabic", FW_NORMAL as i32),
        Face::ArabicBold => ("Noto Naskh Arabic", FW_BOLD as i32),
        Face::Ethiopic => ("Noto Sans Ethiopic", FW_NORMAL as i32),
        Face::EthiopicBold => ("Noto Sans Ethiopic", FW_BOLD as i32),
    }
}

/// The page's marks drawn on a printer DC: points from the page's lower
/// left become device pixels from the printable area's top left.
struct Drawing<'a> {
    dc: HDC,
    fonts: &'a FaceFonts,
    dpi: (f32, f32),
    offset: (f32, f32),
    /// Fonts made so far, by face, pixel height and tenths of a degree.
    made: HashMap<(Face, i32, i32), HFONT>,
    /// GDI objects made for this page, deleted at the end.
    objects: Vec<HGDIOBJ>,
    grey: f32,
    original: Option<HGDIOBJ>,
}

impl<'a> Drawing<'a> {
    fn new(dc: HDC, fonts: &'a FaceFonts) -> Drawing<'a> {
        // SAFETY: plain queries of a valid DC.
        let (dpi, offset) = unsafe {
            (
                (GetDeviceCaps(dc, LOGPIXELSX as i32) as f32, GetDeviceCaps(dc, LOGPIXELSY as i32) as f32),
                (GetDeviceCaps(dc, PHYSICALOFFSETX as i32) as f32, GetDeviceCaps(dc, PHYSICALOFFSETY as i32) as f32),
            )
        };
        Drawing { dc, fonts, dpi, offset, made: HashMap::new(), objects: Vec::new(), grey: 0.0, original: None }
    }

    fn x(&self, pt: f32) -> i32 {
        (pt * self.dpi.0 / 72.0 - self.offset.0).round() as i32
    }

    fn y(&self, pt: f32) -> i32 {
        ((PAGE_H - pt) * self.dpi.1 / 72.0 - self.offset.1).round() as i32
    }

    fn colour(&self) -> u32 {
        let v = (self.grey.clamp(0.0, 1.0) * 255.0).round() as u32;
        v | (v << 8) | (v << 16)
    }

    fn page(mut self, marks: &[Mark]) -> Result<(), PrintError> {
        if self.dpi.0 <= 0.0 || self.dpi.1 <= 0.0 {
            return Err(PrintError::Refused { detail: "GetDeviceCaps: no resolution".into() });
        }
        // SAFETY: settings of a valid DC.
        unsafe {
            SetBkMode(self.dc, TRANSPARENT as i32);
            SetTextAlign(self.dc, TA_BASELINE | TA_LEFT);
            SetTextColor(self.dc, self.colour());
        }
        let mut brush = self.brush()?;
        let mut pen: Option<HGDIOBJ> = None;
        for mark in marks {
            match mark {
                Mark::Text { face, size, x, y, degrees, text } => self.text(*face, *size, *x, *y, *degrees, text)?,
                Mark::Glyph { face, size, x, y, gid, .. } => {
                    self.select_font(*face, *size, 0.0)?;
                    // SAFETY: one glyph index, no spacing array.
                    let ok = unsafe {
                        ExtTextOutW(
                            self.dc,
                            self.x(*x),
                            self.y(*y),
                            ETO_GLYPH_INDEX as ETO_OPTIONS,
                            std::ptr::null(),
                            gid,
                            1,
                            std::ptr::null(),
                        )
                    };
                    if ok == 0 {
                        return Err(os_error("ExtTextOut"));
                    }
                }
                Mark::FillGrey(level) => {
                    self.grey = *level;
                    // SAFETY: a valid DC.
                    unsafe { SetTextColor(self.dc, self.colour()) };
                    brush = self.brush()?;
                }
                Mark::StrokeGrey { level, width } => {
                    let px = (width * self.dpi.0 / 72.0).round().max(1.0) as i32;
                    let v = (level.clamp(0.0, 1.0) * 255.0).round() as u32;
                    // SAFETY: a pen kept in `objects` until the end.
                    let p = unsafe { CreatePen(PS_INSIDEFRAME, px, v | (v << 8) | (v << 16)) };
                    if p.is_null() {
                        return Err(os_error("CreatePen"));
                    }
                    self.objects.push(p);
                    pen = Some(p);
                }
                Mark::FillRect { x, y, w, h } => {
                    let r = RECT { left: self.x(*x), top: self.y(*y + *h), right: self.x(*x + *w), bottom: self.y(*y) };
                    // SAFETY: a valid DC, rectangle and brush.
                    if unsafe { windows_sys::Win32::Graphics::Gdi::FillRect(self.dc, &r, brush) } == 0 {
                        return Err(os_error("FillRect"));
                    }
                }
                Mark::StrokeRect { x, y, w, h } => {
                    // SAFETY: selecting stock and own objects into a valid DC.
                    unsafe {
                        let old_brush = SelectObject(self.dc, GetStockObject(NULL_BRUSH));
                        let old_pen = pen.map(|p| SelectObject(self.dc, p));
                        let ok = windows_sys::Win32::Graphics::Gdi::Rectangle(
                            self.dc,
                            self.x(*x),
                            self.y(*y + *h),
                            self.x(*x + *w),
                            self.y(*y),
                        );
                        if let Some(old) = old_pen {
                            SelectObject(self.dc, old);
                        }
                        SelectObject(self.dc, old_brush);
                        if ok == 0 {
                            return Err(os_error("Rectangle"));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// A brush of the current grey, kept until the end.
    fn brush(&mut self) -> Result<windows_sys::Win32::Graphics::Gdi::HBRUSH, PrintError> {
        // SAFETY: a brush kept in `objects` until the end.
        let b = unsafe { CreateSolidBrush(self.colour()) };
        if b.is_null() {
            return Err(os_error("CreateSolidBrush"));
        }
        self.objects.push(b);
        Ok(b)
    }

    /// Selects `face` at `size` points turned `degrees`, and checks that
    /// GDI gave the handout's own face, not a look-alike.
    fn select_font(&mut self, face: Face, size: f32, degrees: f32) -> Result<(), PrintError> {
        let px = (size * self.dpi.1 / 72.0).round().max(1.0) as i32;
        let tenths = (degrees * 10.0).round() as i32;
        let font = match self.made.get(&(face, px, tenths)) {
            Some(&f) => f,
            None => {
                let (name, weight) = family(face);
                let name_w = wide(name);
                // A negative height is the em height: the size the PDF sets.
                // SAFETY: the face name outlives the call.
                let f = unsafe {
                    CreateFontW(
                        -px,
                        0,
                        tenths,
                        tenths,
                        weight,
                        0,
                        0,
                        0,
                        DEFAULT_CHARSET as u32,
                        0,
                        0,
                        0,
                        0,
                        name_w.as_ptr(),
                    )
                };
                if f.is_null() {
                    return Err(os_error("CreateFont"));
                }
                self.made.insert((face, px, tenths), f);
                f
            }
        };
        // SAFETY: a font made above, deleted after it is deselected.
        let old = unsafe { SelectObject(self.dc, font) };
        self.original.get_or_insert(old);
        let mut got = [0u16; 64];
        // SAFETY: the buffer's length is passed.
        let n = unsafe { GetTextFaceW(self.dc, got.len() as i32, got.as_mut_ptr()) };
        let got = String::from_utf16_lossy(&got[..n.max(1) as usize - 1]);
        let (name, _) = family(face);
        if got != name {
            return Err(PrintError::Refused { detail: format!("the printer driver set {got:?} instead of {name:?}") });
        }
        Ok(())
    }

    fn text(&mut self, face: Face, size: f32, x: f32, y: f32, degrees: f32, text: &str) -> Result<(), PrintError> {
        self.select_font(face, size, degrees)?;
        let units = zeroize::Zeroizing::new(text.encode_utf16().collect::<Vec<u16>>());
        if units.is_empty() {
            return Ok(());
        }
        // Each character where the PDF puts it: cumulative positions rounded
        // once, so that no rounding error adds up along the line. A
        // character outside the BMP takes two units, the second no advance.
        let dx: Option<Vec<i32>> = (degrees == 0.0).then(|| {
            let mut dx = Vec::with_capacity(units.len());
            let mut at = 0.0f32;
            let mut placed = 0i32;
            for (c, advance) in text.chars().zip(self.fonts.metrics.advances(face, text, size)) {
                at += advance;
                let next = (at * self.dpi.0 / 72.0).round() as i32;
                dx.push(next - placed);
                placed = next;
                if c.len_utf16() == 2 {
                    dx.push(0);
                }
            }
            dx
        });
        // SAFETY: `units` and `dx` (one entry per unit) outlive the call.
        let ok = unsafe {
            ExtTextOutW(
                self.dc,
                self.x(x),
                self.y(y),
                0,
                std::ptr::null(),
                units.as_ptr(),
                units.len() as u32,
                dx.as_ref().map_or(std::ptr::null(), |d| d.as_ptr()),
            )
        };
        if ok == 0 {
            return Err(os_error("ExtTextOut"));
        }
        Ok(())
    }
}

impl Drop for Drawing<'_> {
    fn drop(&mut self) {
        // SAFETY: the DC's first font goes back before ours are deleted.
        unsafe {
            if let Some(original) = self.original {
                SelectObject(self.dc, original);
            }
            for &f in self.made.values() {
                DeleteObject(f);
            }
            for &o in &self.objects {
                DeleteObject(o);
            }
        }
    }
}
