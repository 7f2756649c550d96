"""Turns scoreboard tables into the static site: pages, tables, charts."""
