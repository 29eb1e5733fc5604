//! A value that must never be printed, logged or stored: API tokens and other credentials.

/// A secret string. Its `Debug` and `Display` print `***`; only [`Secret::expose`] reveals it, at
/// the one place that hands it to the network.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// The secret itself. Call only where it leaves the process as intended.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `text` with every occurrence of the secret replaced by `***`: for anything that came
    /// from a connector or a server (log lines, error messages) on its way to a log, a terminal
    /// or the run history.
    pub fn redact(&self, text: &str) -> String {
        if self.0.is_empty() {
            text.to_owned()
        } else {
            text.replace(&self.0, "***")
        }
    }
}

/// [`Secret::redact`] for each of `secrets` in turn (the forms of one credential, longest
/// first, so that none leaves part of a longer one behind).
pub fn redact(secrets: &[Secret], text: &str) -> String {
    let mut text = text.to_owned();
    for secret in secrets {
        text = secret.redact(&text);
    }
    text
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::Secret;

    #[test]
    fn formatting_never_reveals_the_value() {
        let secret = Secret::new("hxtp_live_token".to_owned());
        assert_eq!(
            format!("{secret} {secret:?} {secret:#?}"),
            "*** Secret(***) Secret(***)"
        );
        assert_eq!(secret.expose(), "hxtp_live_token");
    }

    #[test]
    fn redaction_replaces_every_occurrence() {
        let secret = Secret::new("hxtp_live_token".to_owned());
        assert_eq!(
            secret.redact("Bearer hxtp_live_token, again hxtp_live_token."),
            "Bearer ***, again ***."
        );
        assert_eq!(super::redact(&[], "hxtp_live_token"), "hxtp_live_token");
        let forms = [secret.clone(), Secret::new("aHh0cF9saXZl".to_owned())];
        assert_eq!(
            super::redact(&forms, "Basic aHh0cF9saXZl and hxtp_live_token"),
            "Basic *** and ***"
        );
        assert_eq!(Secret::new(String::new()).redact("abc"), "abc");
    }
}
