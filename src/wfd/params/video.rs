//! `wfd_video_formats`, `wfd_3d_video_formats` and the CEA/VESA/HH mode tables
//! (reference section 5).

use std::fmt;

use super::{ParamError, clip, hex_exact, is_none, names, split_list};

/// One video mode of a WFD table: resolution, refresh rate, scan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct VideoMode {
    /// Active pixels per line.
    pub width: u16,
    /// Active lines.
    pub height: u16,
    /// Frames (progressive) or fields (interlaced) per second.
    pub refresh_hz: u8,
    /// Interlaced scan.
    pub interlaced: bool,
}

impl VideoMode {
    const fn p(width: u16, height: u16, refresh_hz: u8) -> Self {
        VideoMode {
            width,
            height,
            refresh_hz,
            interlaced: false,
        }
    }
    const fn i(width: u16, height: u16, refresh_hz: u8) -> Self {
        VideoMode {
            width,
            height,
            refresh_hz,
            interlaced: true,
        }
    }

    /// Pixels per second actually coded: interlaced modes carry half the lines per field.
    pub fn pixel_rate(&self) -> u64 {
        let per_picture = u64::from(self.width) * u64::from(self.height);
        let rate = per_picture * u64::from(self.refresh_hz);
        if self.interlaced { rate / 2 } else { rate }
    }

    /// The ranking weight libwds and AOSP use to pick the best mode:
    /// width × height × rate, doubled for progressive scan.
    pub fn score(&self) -> u64 {
        let base = u64::from(self.width) * u64::from(self.height) * u64::from(self.refresh_hz);
        if self.interlaced { base } else { base * 2 }
    }
}

impl fmt::Display for VideoMode {
    /// `1920x1080p60`, `720x480i60`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scan = if self.interlaced { 'i' } else { 'p' };
        write!(
            f,
            "{}x{}{}{}",
            self.width, self.height, scan, self.refresh_hz
        )
    }
}

/// Which of the three WFD resolution tables a bitmap indexes.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum VideoTable {
    /// CEA-861 (TV) modes.
    Cea,
    /// VESA (PC monitor) modes.
    Vesa,
    /// Handheld modes.
    Hh,
}

/// CEA table, bit n = row n (reference section 5).
pub const CEA_MODES: [VideoMode; 17] = [
    VideoMode::p(640, 480, 60),
    VideoMode::p(720, 480, 60),
    VideoMode::i(720, 480, 60),
    VideoMode::p(720, 576, 50),
    VideoMode::i(720, 576, 50),
    VideoMode::p(1280, 720, 30),
    VideoMode::p(1280, 720, 60),
    VideoMode::p(1920, 1080, 30),
    VideoMode::p(1920, 1080, 60),
    VideoMode::i(1920, 1080, 60),
    VideoMode::p(1280, 720, 25),
    VideoMode::p(1280, 720, 50),
    VideoMode::p(1920, 1080, 25),
    VideoMode::p(1920, 1080, 50),
    VideoMode::i(1920, 1080, 50),
    VideoMode::p(1280, 720, 24),
    VideoMode::p(1920, 1080, 24),
];

/// VESA table, bit n = row n (reference section 5).
pub const VESA_MODES: [VideoMode; 29] = [
    VideoMode::p(800, 600, 30),
    VideoMode::p(800, 600, 60),
    VideoMode::p(1024, 768, 30),
    VideoMode::p(1024, 768, 60),
    VideoMode::p(1152, 864, 30),
    VideoMode::p(1152, 864, 60),
    VideoMode::p(1280, 768, 30),
    VideoMode::p(1280, 768, 60),
    VideoMode::p(1280, 800, 30),
    VideoMode::p(1280, 800, 60),
    VideoMode::p(1360, 768, 30),
    VideoMode::p(1360, 768, 60),
    VideoMode::p(1366, 768, 30),
    VideoMode::p(1366, 768, 60),
    VideoMode::p(1280, 1024, 30),
    VideoMode::p(1280, 1024, 60),
    VideoMode::p(1400, 1050, 30),
    VideoMode::p(1400, 1050, 60),
    VideoMode::p(1440, 900, 30),
    VideoMode::p(1440, 900, 60),
    VideoMode::p(1600, 900, 30),
    VideoMode::p(1600, 900, 60),
    VideoMode::p(1600, 1200, 30),
    VideoMode::p(1600, 1200, 60),
    VideoMode::p(1680, 1024, 30),
    VideoMode::p(1680, 1024, 60),
    VideoMode::p(1680, 1050, 30),
    VideoMode::p(1680, 1050, 60),
    VideoMode::p(1920, 1200, 30),
];

/// Handheld table, bit n = row n (reference section 5).
pub const HH_MODES: [VideoMode; 12] = [
    VideoMode::p(800, 480, 30),
    VideoMode::p(800, 480, 60),
    VideoMode::p(854, 480, 30),
    VideoMode::p(854, 480, 60),
    VideoMode::p(864, 480, 30),
    VideoMode::p(864, 480, 60),
    VideoMode::p(640, 360, 30),
    VideoMode::p(640, 360, 60),
    VideoMode::p(960, 540, 30),
    VideoMode::p(960, 540, 60),
    VideoMode::p(848, 480, 30),
    VideoMode::p(848, 480, 60),
];

impl VideoTable {
    /// The rows of this table.
    pub fn modes(self) -> &'static [VideoMode] {
        match self {
            VideoTable::Cea => &CEA_MODES,
            VideoTable::Vesa => &VESA_MODES,
            VideoTable::Hh => &HH_MODES,
        }
    }

    /// The mode at `bit`, `None` for reserved bits.
    pub fn mode(self, bit: u8) -> Option<VideoMode> {
        self.modes().get(usize::from(bit)).copied()
    }

    /// The selector value of the native byte's bits 2..0 (CEA 0, VESA 1, HH 2).
    pub fn selector(self) -> u8 {
        match self {
            VideoTable::Cea => 0,
            VideoTable::Vesa => 1,
            VideoTable::Hh => 2,
        }
    }

    /// All three tables, in selector order.
    pub const ALL: [VideoTable; 3] = [VideoTable::Cea, VideoTable::Vesa, VideoTable::Hh];

    /// Finds the table and bit of a mode written like `1920x1080p60`.
    pub fn lookup(name: &str) -> Option<(VideoTable, u8)> {
        VideoTable::ALL.iter().find_map(|table| {
            table
                .modes()
                .iter()
                .position(|m| m.to_string() == name)
                .and_then(|i| u8::try_from(i).ok())
                .map(|bit| (*table, bit))
        })
    }
}

impl fmt::Display for VideoTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            VideoTable::Cea => "CEA",
            VideoTable::Vesa => "VESA",
            VideoTable::Hh => "HH",
        })
    }
}

/// H.264 profile bits of a codec entry.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum H264Profile {
    /// Constrained Baseline (bit 0).
    #[serde(rename = "CBP")]
    Cbp,
    /// Constrained High (bit 1).
    #[serde(rename = "CHP")]
    Chp,
}

impl H264Profile {
    /// The profile's bit in the profile bitmap.
    pub fn bit(self) -> u8 {
        match self {
            H264Profile::Cbp => 0x01,
            H264Profile::Chp => 0x02,
        }
    }

    /// Profiles set in a bitmap, lowest bit first; unknown bits are ignored.
    pub fn from_bitmap(bitmap: u8) -> Vec<H264Profile> {
        [H264Profile::Cbp, H264Profile::Chp]
            .into_iter()
            .filter(|p| bitmap & p.bit() != 0)
            .collect()
    }
}

impl fmt::Display for H264Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            H264Profile::Cbp => "CBP",
            H264Profile::Chp => "CHP",
        })
    }
}

/// H.264 level bits of a codec entry.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum H264Level {
    /// Level 3.1 (bit 0).
    #[serde(rename = "3.1")]
    L3_1,
    /// Level 3.2 (bit 1).
    #[serde(rename = "3.2")]
    L3_2,
    /// Level 4 (bit 2).
    #[serde(rename = "4")]
    L4,
    /// Level 4.1 (bit 3).
    #[serde(rename = "4.1")]
    L4_1,
    /// Level 4.2 (bit 4).
    #[serde(rename = "4.2")]
    L4_2,
}

impl H264Level {
    /// All levels, lowest first.
    pub const ALL: [H264Level; 5] = [
        H264Level::L3_1,
        H264Level::L3_2,
        H264Level::L4,
        H264Level::L4_1,
        H264Level::L4_2,
    ];

    /// The level's bit in the level bitmap.
    pub fn bit(self) -> u8 {
        match self {
            H264Level::L3_1 => 0x01,
            H264Level::L3_2 => 0x02,
            H264Level::L4 => 0x04,
            H264Level::L4_1 => 0x08,
            H264Level::L4_2 => 0x10,
        }
    }

    /// Levels set in a bitmap, lowest first; reserved bits are ignored.
    pub fn from_bitmap(bitmap: u8) -> Vec<H264Level> {
        H264Level::ALL
            .into_iter()
            .filter(|l| bitmap & l.bit() != 0)
            .collect()
    }
}

impl fmt::Display for H264Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            H264Level::L3_1 => "3.1",
            H264Level::L3_2 => "3.2",
            H264Level::L4 => "4",
            H264Level::L4_1 => "4.1",
            H264Level::L4_2 => "4.2",
        })
    }
}

/// One H.264 codec entry of `wfd_video_formats` (11 fields).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct H264Codec {
    /// Profile bitmap (bit 0 CBP, bit 1 CHP).
    pub profile: u8,
    /// Level bitmap (bit 0 3.1 .. bit 4 4.2).
    pub level: u8,
    /// CEA resolution/refresh bitmap.
    pub cea: u32,
    /// VESA resolution/refresh bitmap.
    pub vesa: u32,
    /// Handheld resolution/refresh bitmap.
    pub hh: u32,
    /// Decoder latency in units of 5 ms.
    pub latency: u8,
    /// Minimum slice size in macroblocks (0 = one slice per picture).
    pub min_slice_size: u16,
    /// Slice encoding parameters (bits 9..0 max slices − 1, bits 12..10 size ratio).
    pub slice_enc_params: u16,
    /// Frame-rate control bits (bit 0 skipping, bits 3..1 max skip interval, bit 4 dynamic).
    pub frame_rate_control: u8,
    /// Maximum horizontal resolution, `None` is `none`.
    pub max_hres: Option<u16>,
    /// Maximum vertical resolution, `None` is `none`.
    pub max_vres: Option<u16>,
}

impl H264Codec {
    /// The bitmap of `table`.
    pub fn bitmap(&self, table: VideoTable) -> u32 {
        match table {
            VideoTable::Cea => self.cea,
            VideoTable::Vesa => self.vesa,
            VideoTable::Hh => self.hh,
        }
    }

    /// Every (table, bit, mode) this entry advertises, in table then bit order; reserved bits
    /// are skipped (see [`H264Codec::reserved_bits`]).
    pub fn modes(&self) -> Vec<(VideoTable, u8, VideoMode)> {
        let mut out = Vec::new();
        for table in VideoTable::ALL {
            let bitmap = self.bitmap(table);
            for bit in 0..32u8 {
                if bitmap & (1 << bit) != 0
                    && let Some(mode) = table.mode(bit)
                {
                    out.push((table, bit, mode));
                }
            }
        }
        out
    }

    /// Bits set past the end of a table (reserved in R1: ignored, not an error).
    pub fn reserved_bits(&self, table: VideoTable) -> Vec<u8> {
        let bitmap = self.bitmap(table);
        (0..32u8)
            .filter(|bit| bitmap & (1 << bit) != 0 && table.mode(*bit).is_none())
            .collect()
    }

    /// A single-mode entry as a source writes it in M4 (reference section 5 rule 5).
    pub fn single(profile: H264Profile, level: H264Level, table: VideoTable, bit: u8) -> Self {
        let mask = 1u32 << (bit & 31);
        H264Codec {
            profile: profile.bit(),
            level: level.bit(),
            cea: if table == VideoTable::Cea { mask } else { 0 },
            vesa: if table == VideoTable::Vesa { mask } else { 0 },
            hh: if table == VideoTable::Hh { mask } else { 0 },
            latency: 0,
            min_slice_size: 0,
            slice_enc_params: 0,
            frame_rate_control: 0x11,
            max_hres: None,
            max_vres: None,
        }
    }

    fn parse(entry: &str, index: usize) -> Result<H264Codec, ParamError> {
        const P: &str = names::VIDEO_FORMATS;
        let fields: Vec<&str> = entry.split_ascii_whitespace().collect();
        if fields.len() != 11 {
            return Err(ParamError::new(
                P,
                format!("codec entry {index}"),
                format!(
                    "must have 11 space-separated fields ({} given)",
                    fields.len()
                ),
            ));
        }
        let f = |i: usize, digits: usize, what: &str| {
            hex_exact(
                fields[i],
                digits,
                P,
                &format!("{what} of codec entry {index}"),
            )
        };
        let opt16 = |i: usize, what: &str| -> Result<Option<u16>, ParamError> {
            if is_none(fields[i]) {
                Ok(None)
            } else {
                f(i, 4, what).map(|v| Some(v as u16))
            }
        };
        Ok(H264Codec {
            profile: f(0, 2, "profile")? as u8,
            level: f(1, 2, "level")? as u8,
            cea: f(2, 8, "CEA bitmap")? as u32,
            vesa: f(3, 8, "VESA bitmap")? as u32,
            hh: f(4, 8, "HH bitmap")? as u32,
            latency: f(5, 2, "latency")? as u8,
            min_slice_size: f(6, 4, "min-slice-size")? as u16,
            slice_enc_params: f(7, 4, "slice-enc-params")? as u16,
            frame_rate_control: f(8, 2, "frame-rate-control")? as u8,
            max_hres: opt16(9, "max-hres")?,
            max_vres: opt16(10, "max-vres")?,
        })
    }
}

fn opt_hex4(v: Option<u16>) -> String {
    v.map_or_else(|| "none".to_owned(), |v| format!("{v:04X}"))
}

impl fmt::Display for H264Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:02X} {:02X} {:08X} {:08X} {:08X} {:02X} {:04X} {:04X} {:02X} {} {}",
            self.profile,
            self.level,
            self.cea,
            self.vesa,
            self.hh,
            self.latency,
            self.min_slice_size,
            self.slice_enc_params,
            self.frame_rate_control,
            opt_hex4(self.max_hres),
            opt_hex4(self.max_vres)
        )
    }
}

/// A `wfd_video_formats` value other than `none`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VideoFormats {
    /// Native resolution byte: bits 2..0 table selector, bits 7..3 index. Informational only.
    pub native: u8,
    /// Preferred-display-mode-supported (0 or 1; any byte is kept).
    pub preferred_display_mode_supported: u8,
    /// The codec entries (one per profile).
    pub codecs: Vec<H264Codec>,
}

impl VideoFormats {
    /// Parses a value; `none` gives `None`.
    ///
    /// # Errors
    /// [`ParamError`] naming the codec entry and field.
    pub fn parse(value: &str) -> Result<Option<VideoFormats>, ParamError> {
        const P: &str = names::VIDEO_FORMATS;
        let value = value.trim();
        if is_none(value) {
            return Ok(None);
        }
        let mut head = value.splitn(3, |c: char| c.is_ascii_whitespace());
        let native = head.next().unwrap_or_default();
        let pref = head.next().unwrap_or_default();
        let rest = head.next().unwrap_or_default().trim_start();
        let native = hex_exact(native, 2, P, "native")? as u8;
        let pref = hex_exact(pref, 2, P, "preferred-display-mode-supported")? as u8;
        if rest.is_empty() {
            return Err(ParamError::new(P, "codec list", "is missing"));
        }
        let codecs = split_list(rest)
            .enumerate()
            .map(|(i, entry)| H264Codec::parse(entry, i + 1))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(VideoFormats {
            native,
            preferred_display_mode_supported: pref,
            codecs,
        }))
    }

    /// The table and mode the native byte points at (`None` for a reserved selector/index).
    pub fn native_mode(&self) -> Option<(VideoTable, u8, VideoMode)> {
        let table = match self.native & 0x07 {
            0 => VideoTable::Cea,
            1 => VideoTable::Vesa,
            2 => VideoTable::Hh,
            _ => return None,
        };
        let index = self.native >> 3;
        table.mode(index).map(|m| (table, index, m))
    }

    /// Every distinct (table, bit, mode) any codec entry advertises, in table then bit order.
    pub fn modes(&self) -> Vec<(VideoTable, u8, VideoMode)> {
        let mut all: Vec<(VideoTable, u8, VideoMode)> =
            self.codecs.iter().flat_map(H264Codec::modes).collect();
        all.sort_by_key(|(t, b, _)| (*t, *b));
        all.dedup_by_key(|(t, b, _)| (*t, *b));
        all
    }

    /// Number of (profile, level, mode) combinations, counted as libwds does: one per mode
    /// per codec entry.
    pub fn combination_count(&self) -> usize {
        self.codecs.iter().map(|c| c.modes().len()).sum()
    }
}

impl fmt::Display for VideoFormats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:02X} {:02X} ",
            self.native, self.preferred_display_mode_supported
        )?;
        for (i, c) in self.codecs.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

/// One 3D codec entry of `wfd_3d_video_formats`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct H264Codec3d {
    /// Profile bitmap.
    pub profile: u8,
    /// Level bitmap.
    pub level: u8,
    /// 3D video capability bitmap (HEX(16)).
    pub capability: u64,
    /// Latency in units of 5 ms.
    pub latency: u8,
    /// Minimum slice size.
    pub min_slice_size: u16,
    /// Slice encoding parameters.
    pub slice_enc_params: u16,
    /// Frame-rate control bits.
    pub frame_rate_control: u8,
    /// Maximum horizontal resolution, `None` is `none`.
    pub max_hres: Option<u16>,
    /// Maximum vertical resolution, `None` is `none`.
    pub max_vres: Option<u16>,
}

/// A `wfd_3d_video_formats` value other than `none`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Video3dFormats {
    /// Native resolution byte.
    pub native: u8,
    /// Preferred-display-mode-supported byte.
    pub preferred_display_mode_supported: u8,
    /// The 3D codec entries.
    pub codecs: Vec<H264Codec3d>,
}

impl Video3dFormats {
    /// Parses a value; `none` gives `None`.
    ///
    /// # Errors
    /// [`ParamError`] naming the codec entry and field.
    pub fn parse(value: &str) -> Result<Option<Video3dFormats>, ParamError> {
        const P: &str = names::VIDEO_3D_FORMATS;
        let value = value.trim();
        if is_none(value) {
            return Ok(None);
        }
        let mut head = value.splitn(3, |c: char| c.is_ascii_whitespace());
        let native = hex_exact(head.next().unwrap_or_default(), 2, P, "native")? as u8;
        let pref = hex_exact(
            head.next().unwrap_or_default(),
            2,
            P,
            "preferred-display-mode-supported",
        )? as u8;
        let rest = head.next().unwrap_or_default().trim_start();
        if rest.is_empty() {
            return Err(ParamError::new(P, "codec list", "is missing"));
        }
        let mut codecs = Vec::new();
        for (i, entry) in split_list(rest).enumerate() {
            let index = i + 1;
            let fields: Vec<&str> = entry.split_ascii_whitespace().collect();
            if fields.len() != 9 {
                return Err(ParamError::new(
                    P,
                    format!("codec entry {index}"),
                    format!(
                        "must have 9 space-separated fields ({} given)",
                        fields.len()
                    ),
                ));
            }
            let f = |i: usize, digits: usize, what: &str| {
                hex_exact(
                    fields[i],
                    digits,
                    P,
                    &format!("{what} of codec entry {index}"),
                )
            };
            let opt16 = |i: usize, what: &str| -> Result<Option<u16>, ParamError> {
                if is_none(fields[i]) {
                    Ok(None)
                } else {
                    f(i, 4, what).map(|v| Some(v as u16))
                }
            };
            codecs.push(H264Codec3d {
                profile: f(0, 2, "profile")? as u8,
                level: f(1, 2, "level")? as u8,
                capability: f(2, 16, "3d capability")?,
                latency: f(3, 2, "latency")? as u8,
                min_slice_size: f(4, 4, "min-slice-size")? as u16,
                slice_enc_params: f(5, 4, "slice-enc-params")? as u16,
                frame_rate_control: f(6, 2, "frame-rate-control")? as u8,
                max_hres: opt16(7, "max-hres")?,
                max_vres: opt16(8, "max-vres")?,
            });
        }
        Ok(Some(Video3dFormats {
            native,
            preferred_display_mode_supported: pref,
            codecs,
        }))
    }
}

impl fmt::Display for Video3dFormats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:02X} {:02X} ",
            self.native, self.preferred_display_mode_supported
        )?;
        for (i, c) in self.codecs.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(
                f,
                "{:02X} {:02X} {:016X} {:02X} {:04X} {:04X} {:02X} {} {}",
                c.profile,
                c.level,
                c.capability,
                c.latency,
                c.min_slice_size,
                c.slice_enc_params,
                c.frame_rate_control,
                opt_hex4(c.max_hres),
                opt_hex4(c.max_vres)
            )?;
        }
        Ok(())
    }
}

/// Parses a mode name such as `1920x1080p60`, for configuration files.
///
/// # Errors
/// A message naming the text when it is not a row of any table.
pub fn mode_by_name(name: &str) -> Result<(VideoTable, u8), String> {
    VideoTable::lookup(name).ok_or_else(|| {
        format!(
            "'{}' is not a mode of the CEA, VESA or HH tables",
            clip(name)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samsung_bitmaps_decode_as_the_reference_says() {
        let v = VideoFormats::parse(
            "40 00 02 04 0001DEFF 053C7FFF 00000FFF 00 0000 0000 11 none none, \
             01 04 0001DEFF 053C7FFF 00000FFF 00 0000 0000 11 none none",
        )
        .unwrap()
        .unwrap();
        assert_eq!(v.combination_count(), 96);
        let (table, index, mode) = v.native_mode().unwrap();
        assert_eq!(
            (table, index, mode.to_string().as_str()),
            (VideoTable::Cea, 8, "1920x1080p60")
        );
        let cea = v.codecs[0]
            .modes()
            .iter()
            .filter(|m| m.0 == VideoTable::Cea)
            .count();
        assert_eq!(cea, 15);
    }

    #[test]
    fn native_5a_is_hh_848x480p60() {
        let v =
            VideoFormats::parse("5A 00 02 04 00000020 00000000 00000000 00 0000 0000 11 none none")
                .unwrap()
                .unwrap();
        let (table, index, mode) = v.native_mode().unwrap();
        assert_eq!((table, index), (VideoTable::Hh, 11));
        assert_eq!(mode.to_string(), "848x480p60");
    }

    #[test]
    fn reserved_bits_are_ignored_not_errors() {
        let v =
            VideoFormats::parse("00 00 01 01 00000001 20000000 00001000 00 0000 0000 00 none none")
                .unwrap()
                .unwrap();
        assert_eq!(v.codecs[0].reserved_bits(VideoTable::Vesa), vec![29]);
        assert_eq!(v.codecs[0].reserved_bits(VideoTable::Hh), vec![12]);
        assert_eq!(v.codecs[0].modes().len(), 1);
    }

    #[test]
    fn wrong_field_count_names_the_entry() {
        let err = VideoFormats::parse("00 00 01 01 00000001 00000000").unwrap_err();
        assert_eq!(
            err.to_string(),
            "wfd_video_formats: codec entry 1 must have 11 space-separated fields (4 given)"
        );
    }

    #[test]
    fn table_lookup_by_name() {
        assert_eq!(
            VideoTable::lookup("1366x768p30"),
            Some((VideoTable::Vesa, 12))
        );
        assert_eq!(VideoTable::lookup("720x480i60"), Some((VideoTable::Cea, 2)));
        assert!(mode_by_name("3840x2160p60").is_err());
    }
}
