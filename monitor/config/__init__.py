"""sources.yaml: where it is, how it loads, what it may say.

path = resolve_config_path(cli_option)    # --config, else $MONITOR_CONFIG, else ./sources.yaml
config = load_config(path)                # ConfigError lists every problem, with lines
"""

from monitor.config.durations import Duration, format_duration, parse_duration
from monitor.config.loader import load_config, load_config_text, resolve_config_path
from monitor.config.schema import Config, ConfigDocument, Leader, Organization, Settings
from monitor.config.schema_notifiers import (
    ConsoleNotifier,
    EmailNotifier,
    Notifier,
    Throttle,
    WebhookNotifier,
)
from monitor.config.schema_rules import (
    Cue,
    MentionsCondition,
    Rule,
    Severity,
    Stance,
    StanceCondition,
)
from monitor.config.schema_sources import (
    BlueskySource,
    HtmlSource,
    MastodonSource,
    RssSource,
    Selectors,
    Source,
    TelegramSource,
    XSource,
    YouTubeSource,
)

__all__ = [
    "BlueskySource",
    "Config",
    "ConfigDocument",
    "ConsoleNotifier",
    "Cue",
    "Duration",
    "EmailNotifier",
    "HtmlSource",
    "Leader",
    "MastodonSource",
    "MentionsCondition",
    "Notifier",
    "Organization",
    "RssSource",
    "Rule",
    "Selectors",
    "Settings",
    "Severity",
    "Source",
    "Stance",
    "StanceCondition",
    "TelegramSource",
    "Throttle",
    "WebhookNotifier",
    "XSource",
    "YouTubeSource",
    "format_duration",
    "load_config",
    "load_config_text",
    "parse_duration",
    "resolve_config_path",
]
