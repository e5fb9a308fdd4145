"""Messages every area shares: the server language setting and the languages' names."""

from __future__ import annotations

from omnicord.i18n.entry import Entry, Localised

MESSAGES = {
    "common.status_channel_language": Entry(
        en="**Omnicord's language in this server's channels:** {language}",
        ja="**このサーバーのチャンネルでの Omnicord の言語:** {language}",
        zh_CN="**Omnicord 在本服务器频道中使用的语言：** {language}",
        zh_TW="**Omnicord 在本伺服器頻道中使用的語言：** {language}",
        ko="**이 서버 채널에서 Omnicord가 쓰는 언어:** {language}",
        es_ES="**Idioma de Omnicord en los canales de este servidor:** {language}",
        pt_BR="**Idioma do Omnicord nos canais deste servidor:** {language}",
    ),
    "common.no_translation": Entry(
        en="none (no translation)", ja="なし（翻訳しない）", zh_CN="无（不翻译）",
        zh_TW="無（不翻譯）", ko="없음(번역 안 함)", es_ES="ninguno (sin traducción)",
        pt_BR="nenhum (sem tradução)",
    ),
    "common.server_default": Entry(
        en="server default", ja="サーバーの既定", zh_CN="服务器默认", zh_TW="伺服器預設",
        ko="서버 기본값", es_ES="predeterminado del servidor", pt_BR="padrão do servidor",
    ),
    "language.set": Entry(
        en="Omnicord now speaks **{language}** in this server's channels.",
        ja="このサーバーのチャンネルでは、Omnicord は **{language}** で話します。",
        zh_CN="Omnicord 现在在本服务器的频道中使用**{language}**。",
        zh_TW="Omnicord 現在在本伺服器的頻道中使用**{language}**。",
        ko="이제 Omnicord는 이 서버의 채널에서 **{language}**로 말합니다.",
        es_ES="Omnicord ahora habla **{language}** en los canales de este servidor.",
        pt_BR="O Omnicord agora fala **{language}** nos canais deste servidor.",
    ),
    "language.follows_discord": Entry(
        en="Omnicord speaks this server's language as set in Discord (now **{language}**).",
        ja="Omnicord は Discord で設定されたこのサーバーの言語（現在は **{language}**）で話します。",
        zh_CN="Omnicord 使用 Discord 中为本服务器设置的语言（当前为**{language}**）。",
        zh_TW="Omnicord 使用 Discord 中為本伺服器設定的語言（目前為**{language}**）。",
        ko="Omnicord는 Discord에 설정된 이 서버의 언어(현재 **{language}**)로 말합니다.",
        es_ES="Omnicord habla el idioma de este servidor configurado en Discord (ahora "
              "**{language}**).",
        pt_BR="O Omnicord fala o idioma deste servidor definido no Discord (agora "
              "**{language}**).",
    ),
}

COMMANDS = {
    "The language Omnicord speaks in this server's channels": Localised(
        ja="このサーバーのチャンネルで Omnicord が話す言語",
        zh_CN="Omnicord 在本服务器频道中使用的语言",
        zh_TW="Omnicord 在本伺服器頻道中使用的語言",
        ko="이 서버의 채널에서 Omnicord가 사용할 언어",
        es_ES="El idioma que Omnicord habla en los canales de este servidor",
        pt_BR="O idioma que o Omnicord fala nos canais deste servidor",
    ),
    "a language, or the server's language in Discord": Localised(
        ja="言語、または Discord でのサーバーの言語",
        zh_CN="一种语言，或服务器在 Discord 中的语言",
        zh_TW="一種語言，或伺服器在 Discord 中的語言",
        ko="언어 또는 Discord에 설정된 서버 언어",
        es_ES="un idioma, o el idioma del servidor en Discord",
        pt_BR="um idioma, ou o idioma do servidor no Discord",
    ),
    "the server's language in Discord": Localised(
        ja="Discord でのサーバーの言語",
        zh_CN="服务器在 Discord 中的语言",
        zh_TW="伺服器在 Discord 中的語言",
        ko="Discord에 설정된 서버 언어",
        es_ES="el idioma del servidor en Discord",
        pt_BR="o idioma do servidor no Discord",
    ),
}
