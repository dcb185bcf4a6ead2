"""Guided forms in the private chat: one question at a time, buttons instead of syntax.

- `spec`: the questions and their limits (a step's questions stand in its step row);
- `machine`: where a form is and what an answer does to it, pure: no database, no
  translator, no chat, so unit tests step it directly;
- `prompts`: a form's place as a message (question, buttons, summary);
- `reading`: one message or press as the form reads it (photos kept as pending files);
- `store`: the form's place between two messages, in the database, with a deadline;
- `calls`: a confirmed form as the same service call its typed command makes;
- `flow`: the `Forms` the router hands messages and presses to.
"""
