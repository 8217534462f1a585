"""The MCP server (`graphmer mcp`): the index's search and code graph as tools for coding agents."""
