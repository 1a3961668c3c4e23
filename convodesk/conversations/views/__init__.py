"""The conversation list screen: grid, column picker, presets, row actions and chat history."""

from .actions import end_conversation, rate_conversation, spam_conversation, start_conversation
from .history import conversation_history
from .listing import conversation_list
from .live import live_rows, row_menu
from .prefs import save_columns, user_column_keys
from .presets import change_preset, create_preset

__all__ = [
    "change_preset",
    "conversation_history",
    "conversation_list",
    "create_preset",
    "end_conversation",
    "live_rows",
    "rate_conversation",
    "row_menu",
    "save_columns",
    "spam_conversation",
    "start_conversation",
    "user_column_keys",
]
