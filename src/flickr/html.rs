//! HTML entity decoding for the text Flickr returns (titles, descriptions, comments).

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
                "nbsp" => Some('\u{a0}'),
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

#[cfg(test)]
mod tests {
    use super::decode_entities as d;

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
