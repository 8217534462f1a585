"""Code completion over a graphmer index, a pipeline of five stages (see pipeline.py).

graphmer.complete reads graphmer.index (the store, the graph's resolver, pynames' use
counts); graphmer.index never imports graphmer.complete.
"""
