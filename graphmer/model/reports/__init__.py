"""Reports on training runs: analysis from the logs, Markdown and plots, comparisons with
significance tests, model cards and multi-seed summaries. Nothing here starts training."""
