//! A run as one self-contained HTML page (`miracast-sim show`): inline CSS and script, the
//! run's [`Timeline`] as inline JSON, no network access.
//!
//! The script draws one lane per simulated thread and one for the sink, every DDI and callback
//! as a span (colored by who calls whom, red-edged when its status is a failure, dashed when it
//! never returned, with the documented lock the OS holds around it), the waits inside spans as
//! hatching, messages as arrows from send to delivery to completion, the session phase along
//! the top, virtual time where it advances, and each finding's events highlighted with the
//! rule's text. Zoom with the buttons or Ctrl+wheel; click anything for its details.
//!
//! The page is a pure function of the timeline, so the same run gives the same bytes.

use super::timeline::Timeline;

/// The page for `timeline`.
pub fn render(timeline: &Timeline) -> String {
    let data = serde_json::to_string(timeline)
        .unwrap_or_else(|_| "{}".to_owned())
        // Inside a <script> element: no `</script>` and no HTML comment can appear.
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026");
    let title = escape(&format!("{} - miracast-sim", timeline.title));
    let mut page = String::with_capacity(data.len() + PAGE_CSS.len() + PAGE_JS.len() + 2048);
    page.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    page.push_str("<meta name=\"generator\" content=\"miracast-sim show\">\n");
    page.push_str(&format!("<title>{title}</title>\n<style>\n"));
    page.push_str(PAGE_CSS);
    page.push_str("</style>\n</head>\n<body>\n");
    page.push_str(PAGE_BODY);
    page.push_str("<script id=\"run-data\" type=\"application/json\">");
    page.push_str(&data);
    page.push_str("</script>\n<script>\n");
    page.push_str(PAGE_JS);
    page.push_str("</script>\n</body>\n</html>\n");
    page
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const PAGE_BODY: &str = r#"<header>
<h1 id="title"></h1>
<div id="subtitle"></div>
<div id="end"></div>
<ol id="findings"></ol>
<div id="controls">
<button id="zoom-out" title="zoom out">&minus;</button>
<button id="zoom-in" title="zoom in">+</button>
<button id="zoom-fit" title="fit the whole run">fit</button>
<span id="summary"></span>
<span class="legend"><i class="k-os-kmd"></i>OS&rarr;KMD <i class="k-kmd-os"></i>KMD&rarr;OS <i class="k-os-umd"></i>OS&rarr;UMD <i class="k-umd-os"></i>UMD&rarr;OS <i class="susp-key"></i>waiting <i class="arrow-key"></i>message</span>
</div>
</header>
<div id="scroll"><div id="canvas"></div></div>
<div id="details"><em>Click a span, an event or an arrow for its details.</em></div>
"#;

/// The page's style sheet.
const PAGE_CSS: &str = include_str!("timeline.css");

/// The page's script: builds the timeline from the inline JSON.
const PAGE_JS: &str = include_str!("timeline.js");
