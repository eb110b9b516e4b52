"""The GraphiQL page served to browsers at GET /graphql (loaded from a CDN).

The page itself needs no credentials; the API key goes in GraphiQL's headers
editor and is sent with every query it makes.
"""

GRAPHIQL_VERSION = "3.8.3"

PAGE = f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Plinth GraphiQL</title>
  <style>body {{ margin: 0; height: 100vh; }} #graphiql {{ height: 100vh; }}</style>
  <link rel="stylesheet" href="https://unpkg.com/graphiql@{GRAPHIQL_VERSION}/graphiql.min.css">
</head>
<body>
  <div id="graphiql">Loading GraphiQL…</div>
  <script crossorigin src="https://unpkg.com/react@18.3.1/umd/react.production.min.js"></script>
  <script crossorigin src="https://unpkg.com/react-dom@18.3.1/umd/react-dom.production.min.js"></script>
  <script crossorigin src="https://unpkg.com/graphiql@{GRAPHIQL_VERSION}/graphiql.min.js"></script>
  <script>
    ReactDOM.createRoot(document.getElementById("graphiql")).render(
      React.createElement(GraphiQL, {{
        fetcher: GraphiQL.createFetcher({{ url: window.location.pathname }}),
        defaultHeaders: '{{"Authorization": "Bearer <your API key>"}}',
        shouldPersistHeaders: true,
      }})
    );
  </script>
</body>
</html>
"""
