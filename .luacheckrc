-- luacheck (Debian's lua-check), run by ctest's luacheck entry over the scripts and specs.
std = "lua54"
max_line_length = 120
-- The specs run under busted, whose globals (describe, it, assert, spy, ...) they use.
files["tests/lua"] = { std = "+busted" }
-- Specs quote whole wire texts on one line.
files["tests/lua"].max_line_length = 160
