//! HTML entity decoding for the text Flickr returns (titles, descriptions, comments), and
//! plain text from the HTML of comments.

/// The plain text of Flickr's HTML: tags removed (`<br>` and `</p>` become line breaks, a
/// link keeps its text), then entities decoded. A `<` of the text itself arrives as `&lt;`,
/// so every `<` here opens a tag.
pub fn plain_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        out.push_str(&rest[..i]);
        let Some(end) = rest[i..].find('>') else {
            out.push_str(&rest[i..]);
            rest = "";
            break;
        };
        let tag = rest[i + 1..i + end].trim().to_ascii_lowercase();
        let name = tag
            .trim_start_matches('/')
            .split([' ', '/'])
            .next()
            .unwrap_or("");
        if name == "br" || (name == "p" && tag.starts_with('/')) {
            out.push('\n');
        }
        rest = &rest[i + end + 1..];
    }
    out.push_str(rest);
    decode_entities(&out)
}

/// Decodes `&amp; &lt; &gt; &quot; &#39; &apos; &nbsp; &#NNN; &#xHH;`; anything else is kept.
pub fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let end = rest[1..]
            .find(|c: char| c == ';' || c == '&' || c.is_whitespace())
            .map(|j| j + 1);
        let decoded = end.filter(|&e| rest.as_bytes()[e] == b';').and_then(|e| {
            let name = &rest[1..e];
            let ch = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ if named(name).is_some() => named(name),
                _ if name.starts_with("#x") || name.starts_with("#X") => {
                    u32::from_str_radix(&name[2..], 16)
                        .ok()
                        .and_then(char::from_u32)
                }
                _ if name.starts_with('#') => {
                    name[1..].parse::<u32>().ok().and_then(char::from_u32)
                }
                _ => None,
            };
            ch.map(|c| (c, e + 1))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// HTML 4's Latin-1 entities, `&nbsp;` (U+00A0) to `&yuml;` (U+00FF), in code point order.
const LATIN1: [&str; 96] = [
    "nbsp", "iexcl", "cent", "pound", "curren", "yen", "brvbar", "sect", "uml", "copy", "ordf",
    "laquo", "not", "shy", "reg", "macr", "deg", "plusmn", "sup2", "sup3", "acute", "micro",
    "para", "middot", "cedil", "sup1", "ordm", "raquo", "frac14", "frac12", "frac34", "iquest",
    "Agrave", "Aacute", "Acirc", "Atilde", "Auml", "Aring", "AElig", "Ccedil", "Egrave", "Eacute",
    "Ecirc", "Euml", "Igrave", "Iacute", "Icirc", "Iuml", "ETH", "Ntilde", "Ograve", "Oacute",
    "Ocirc", "Otilde", "Ouml", "times", "Oslash", "Ugrave", "Uacute", "Ucirc", "Uuml", "Yacute",
    "THORN", "szlig", "agrave", "aacute", "acirc", "atilde", "auml", "aring", "aelig", "ccedil",
    "egrave", "eacute", "ecirc", "euml", "igrave", "iacute", "icirc", "iuml", "eth", "ntilde",
    "ograve", "oacute", "ocirc", "otilde", "ouml", "divide", "oslash", "ugrave", "uacute", "ucirc",
    "uuml", "yacute", "thorn", "yuml",
];

/// A named entity other than the five XML ones: Latin-1 and the typographic ones Flickr's
/// texts carry.
fn named(name: &str) -> Option<char> {
    if let Some(i) = LATIN1.iter().position(|n| *n == name) {
        return char::from_u32(0xA0 + i as u32);
    }
    Some(match name {
        "ndash" => '\u{2013}',
        "mdash" => '\u{2014}',
        "lsquo" => '\u{2018}',
        "rsquo" => '\u{2019}',
        "sbquo" => '\u{201A}',
        "ldquo" => '\u{201C}',
        "rdquo" => '\u{201D}',
        "bdquo" => '\u{201E}',
        "hellip" => '\u{2026}',
        "bull" => '\u{2022}',
        "prime" => '\u{2032}',
        "lsaquo" => '\u{2039}',
        "rsaquo" => '\u{203A}',
        "euro" => '\u{20AC}',
        "trade" => '\u{2122}',
        "larr" => '\u{2190}',
        "rarr" => '\u{2192}',
        "OElig" => '\u{152}',
        "oelig" => '\u{153}',
        "Scaron" => '\u{160}',
        "scaron" => '\u{161}',
        "Yuml" => '\u{178}',
        "circ" => '\u{2C6}',
        "tilde" => '\u{2DC}',
        "ensp" => '\u{2002}',
        "emsp" => '\u{2003}',
        "thinsp" => '\u{2009}',
        "dagger" => '\u{2020}',
        "permil" => '\u{2030}',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::decode_entities as d;
    use super::plain_text;

    #[test]
    fn plain_text_of_comment_html() {
        assert_eq!(
            plain_text("Gallica &mdash; BnF, Sa&iuml;gon&hellip;"),
            "Gallica \u{2014} BnF, Sa\u{ef}gon\u{2026}"
        );
        assert_eq!(
            plain_text(
                "Xem <a href=\"https://x.org/a?b=1&amp;c=2\" rel=\"nofollow\">b\u{e0}i n\u{e0}y</a> &quot;hay&quot;<br />\nC&aacute;m &#417;n"
            ),
            "Xem b\u{e0}i n\u{e0}y \"hay\"\n\nC\u{e1}m \u{1a1}n"
        );
        assert_eq!(plain_text("a &lt;b&gt; c"), "a <b> c");
        assert_eq!(plain_text("broken <a href"), "broken <a href");
    }

    #[test]
    fn decodes_named_and_numeric() {
        assert_eq!(d("Tom &amp; Jerry"), "Tom & Jerry");
        assert_eq!(
            d("&quot;Saigon&quot; &#39;68 &lt;b&gt;"),
            "\"Saigon\" '68 <b>"
        );
        assert_eq!(d("&#7871;&#x1EBF;"), "ếế");
        assert_eq!(d("a & b &unknown; &#xZZ; &"), "a & b &unknown; &#xZZ; &");
        assert_eq!(d("plain"), "plain");
    }
}
