//! What the pages say, in English and Japanese (issue 18 point 2): one table per language, so
//! that a page cannot show a phrase in one language only.

/// A language of the pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// English.
    En,
    /// Japanese.
    Ja,
}

impl Lang {
    /// The language asked for by `?lang=` (first) or `Accept-Language` (its first of `ja` and
    /// `en`, by order of appearance; English when it names neither).
    pub fn choose(query: Option<&str>, accept_language: Option<&str>) -> Lang {
        match query {
            Some("ja") => return Lang::Ja,
            Some("en") => return Lang::En,
            _ => {}
        }
        for range in accept_language.unwrap_or_default().split(',').take(16) {
            let tag = range.split(';').next().unwrap_or_default().trim();
            let primary = tag.split('-').next().unwrap_or_default();
            if primary.eq_ignore_ascii_case("ja") {
                return Lang::Ja;
            }
            if primary.eq_ignore_ascii_case("en") {
                return Lang::En;
            }
        }
        Lang::En
    }

    /// The BCP 47 tag.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ja => "ja",
        }
    }

    /// The other language, for the switch.
    pub fn other(self) -> Lang {
        match self {
            Lang::En => Lang::Ja,
            Lang::Ja => Lang::En,
        }
    }

    /// The phrases.
    pub fn text(self) -> &'static Text {
        match self {
            Lang::En => &EN,
            Lang::Ja => &JA,
        }
    }
}

/// The name a page shows for a member of a presentation's summary (`/v1/holder/prepare`), if
/// it is one the pages know.
pub fn summary_name(lang: Lang, member: &str) -> Option<&'static str> {
    let (en, ja) = match member {
        "audience" => ("Verifier", "提示先（検証者）"),
        "nonce" => ("Nonce (this request only)", "ノンス（この要求限り）"),
        "challenge" => (
            "Challenge (this request only)",
            "チャレンジ（この要求限り）",
        ),
        "issuer" => ("Issuer", "発行者"),
        "vct" => ("Credential type", "クレデンシャルの種類"),
        "credential" => ("Credential (digest)", "クレデンシャル（ダイジェスト）"),
        "credentials" => ("Credentials", "クレデンシャル"),
        "disclosed" => ("Disclosed claims", "開示する項目"),
        "elements" => ("Disclosed elements", "開示する要素"),
        "docType" => ("Document type", "文書の種類"),
        "holder" => ("Holder", "保有者"),
        "claims" => ("Claims (all are disclosed)", "記載事項（すべて開示）"),
        "otherMembers" => (
            "Other members (disclosed too)",
            "その他の項目（これも開示）",
        ),
        "type" => ("Type", "種類"),
        "digest" => ("Digest", "ダイジェスト"),
        _ => return None,
    };
    Some(match lang {
        Lang::En => en,
        Lang::Ja => ja,
    })
}

/// Every phrase of the pages.
#[derive(Debug)]
pub struct Text {
    pub language_name: &'static str,
    pub sign_in_title: &'static str,
    pub sign_in_lead: &'static str,
    pub username: &'static str,
    pub password: &'static str,
    pub otp: &'static str,
    pub sign_in: &'static str,
    pub wrong_login: &'static str,
    pub too_many: &'static str,
    pub consent_title: &'static str,
    pub asks_to_sign: &'static str,
    pub asks_for_service: &'static str,
    pub key: &'static str,
    pub algorithm: &'static str,
    pub documents: &'static str,
    pub label: &'static str,
    pub digest: &'static str,
    pub unnamed: &'static str,
    pub description: &'static str,
    pub returns_to: &'static str,
    pub pin: &'static str,
    pub otp_again: &'static str,
    pub approve_sign: &'static str,
    pub approve_service: &'static str,
    pub decline: &'static str,
    pub wrong_factors: &'static str,
    pub sign_out: &'static str,
    pub disclosure: &'static str,
    pub or: &'static str,
    pub sign_in_passkey: &'static str,
    pub passkey_failed: &'static str,
    pub sign_in_with: &'static str,
    pub provider_refused: &'static str,
    pub provider_too_weak: &'static str,
    pub signed_in: &'static str,
    pub continue_: &'static str,
    pub account_title: &'static str,
    pub pins: &'static str,
    pub current_pin: &'static str,
    pub new_pin: &'static str,
    pub change_pin: &'static str,
    pub pin_changed: &'static str,
    pub back_to_account: &'static str,
    pub passkeys: &'static str,
    pub passkey_name: &'static str,
    pub synced: &'static str,
    pub used: &'static str,
    pub add_passkey: &'static str,
    pub remove: &'static str,
    pub yes: &'static str,
    pub no: &'static str,
    pub format: &'static str,
    pub prepared_at: &'static str,
    pub signed_out: &'static str,
    pub signed_out_lead: &'static str,
    pub error_title: &'static str,
    pub ended: &'static str,
    pub forbidden: &'static str,
    pub bad_form: &'static str,
    pub failed: &'static str,
}

const EN: Text = Text {
    language_name: "English",
    sign_in_title: "Sign in to Inkan",
    sign_in_lead: "asks for your approval. Sign in first.",
    username: "Username",
    password: "Password",
    otp: "One-time password",
    sign_in: "Sign in",
    wrong_login: "The username, the password or the one-time password is wrong.",
    too_many: "Too many attempts. Wait a minute and try again.",
    consent_title: "Approve a signature",
    asks_to_sign: "asks to sign these documents with your key.",
    asks_for_service: "asks to use Inkan on your behalf.",
    key: "Key",
    algorithm: "Hash algorithm",
    documents: "Documents",
    label: "Name",
    digest: "Digest (base64url)",
    unnamed: "(no name given)",
    description: "Description",
    returns_to: "You will return to",
    pin: "Signing PIN",
    otp_again: "A new one-time password (not the one you signed in with)",
    approve_sign: "Approve and sign",
    approve_service: "Approve",
    decline: "Decline",
    wrong_factors: "The PIN or the one-time password is wrong. A one-time password works once: \
                    wait for the next one.",
    sign_out: "Sign out",
    disclosure: "What you disclose, and to whom",
    or: "Or:",
    sign_in_passkey: "Sign in with a passkey",
    passkey_failed: "The passkey could not be used.",
    sign_in_with: "Sign in with",
    provider_refused: "The sign-in at the identity provider could not be used here: it failed, or \
                       that identity is not linked to an Inkan account.",
    provider_too_weak: "The identity provider's sign-in is not strong enough to sign here. Sign \
                        in with your password and one-time password, or a passkey.",
    signed_in: "You are signed in.",
    continue_: "Continue",
    account_title: "Your account",
    pins: "Signing PINs",
    current_pin: "Current PIN (empty if the key has none yet)",
    new_pin: "New PIN",
    change_pin: "Change the PIN",
    pin_changed: "The PIN was changed.",
    back_to_account: "Back to your account",
    passkeys: "Passkeys",
    passkey_name: "Name",
    synced: "Synced",
    used: "Used",
    add_passkey: "Add a passkey",
    remove: "Remove",
    yes: "yes",
    no: "no",
    format: "Format",
    prepared_at: "Dated",
    signed_out: "Signed out",
    signed_out_lead: "You are signed out of Inkan. You may close this window.",
    error_title: "This cannot go on",
    ended: "This request has ended or was decided already.",
    forbidden: "You may not approve this request.",
    bad_form: "The form was not complete, or came from elsewhere. Start again from the application.",
    failed: "Something failed on our side. Nothing was signed. Try again later.",
};

const JA: Text = Text {
    language_name: "日本語",
    sign_in_title: "Inkan にサインイン",
    sign_in_lead: "があなたの承認を求めています。まずサインインしてください。",
    username: "ユーザー名",
    password: "パスワード",
    otp: "ワンタイムパスワード",
    sign_in: "サインイン",
    wrong_login: "ユーザー名、パスワード、またはワンタイムパスワードが正しくありません。",
    too_many: "試行回数が多すぎます。1分ほど待ってから再度お試しください。",
    consent_title: "署名の承認",
    asks_to_sign: "が、あなたの鍵で次の文書に署名することを求めています。",
    asks_for_service: "が、あなたに代わって Inkan を利用することを求めています。",
    key: "鍵",
    algorithm: "ハッシュアルゴリズム",
    documents: "文書",
    label: "名前",
    digest: "ダイジェスト（base64url）",
    unnamed: "（名前なし）",
    description: "説明",
    returns_to: "承認後の戻り先",
    pin: "署名用PIN",
    otp_again: "新しいワンタイムパスワード（サインインで使ったものとは別）",
    approve_sign: "承認して署名",
    approve_service: "承認",
    decline: "拒否",
    wrong_factors: "PINまたはワンタイムパスワードが正しくありません。ワンタイムパスワードは一度しか使えません。次のコードをお待ちください。",
    sign_out: "サインアウト",
    disclosure: "開示する内容と提示先",
    or: "または：",
    sign_in_passkey: "パスキーでサインイン",
    passkey_failed: "パスキーを使用できませんでした。",
    sign_in_with: "次でサインイン：",
    provider_refused: "IDプロバイダーでのサインインをここでは使用できません。失敗したか、そのIDがInkanのアカウントに紐付けられていません。",
    provider_too_weak: "IDプロバイダーでのサインインは、ここで署名するには保証レベルが足りません。パスワードとワンタイムパスワード、またはパスキーでサインインしてください。",
    signed_in: "サインインしました。",
    continue_: "続ける",
    account_title: "アカウント",
    pins: "署名用PIN",
    current_pin: "現在のPIN（まだ設定していない場合は空欄）",
    new_pin: "新しいPIN",
    change_pin: "PINを変更",
    pin_changed: "PINを変更しました。",
    back_to_account: "アカウントに戻る",
    passkeys: "パスキー",
    passkey_name: "名前",
    synced: "同期",
    used: "使用済み",
    add_passkey: "パスキーを追加",
    remove: "削除",
    yes: "はい",
    no: "いいえ",
    format: "形式",
    prepared_at: "日時",
    signed_out: "サインアウトしました",
    signed_out_lead: "Inkan からサインアウトしました。このウィンドウを閉じてかまいません。",
    error_title: "続行できません",
    ended: "このリクエストは終了したか、すでに処理されています。",
    forbidden: "このリクエストを承認する権限がありません。",
    bad_form: "フォームが不完全か、別の場所から送信されました。アプリケーションからやり直してください。",
    failed: "サーバー側でエラーが発生しました。署名は行われていません。しばらくしてから再度お試しください。",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_language_follows_the_switch_then_the_browser() {
        assert_eq!(
            Lang::choose(None, Some("ja-JP,ja;q=0.9,en;q=0.8")),
            Lang::Ja
        );
        assert_eq!(
            Lang::choose(None, Some("fr-FR, en-GB;q=0.8, ja;q=0.5")),
            Lang::En
        );
        assert_eq!(Lang::choose(Some("en"), Some("ja")), Lang::En);
        assert_eq!(Lang::choose(Some("ja"), None), Lang::Ja);
        assert_eq!(Lang::choose(Some("xx"), Some("de")), Lang::En);
    }
}
