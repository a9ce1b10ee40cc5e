// The MDM hub's GraphiQL page: everything it loads comes from this server (no CDN).
// Queries go to the page's own URL (/graphql) with the headers of the Headers pane.
(function () {
  "use strict";

  var WELCOME = [
    "# MDM hub",
    "#",
    "# 1. Paste a token into the Headers pane below:",
    '#      {"Authorization": "Bearer mdm_..."}',
    "#    `mdm demo` prints one per role; `mdm token create",
    "#    --role reader --name me` makes one.",
    "# 2. Run with Ctrl-Enter or the play button.",
    "#",
    "# This query needs the reader role. More examples, each",
    "# naming the token it needs: graphql/examples/.",
    "query Vendors {",
    "  vendors(first: 5) {",
    "    nodes { id name taxId city state }",
    "    pageInfo { hasNextPage endCursor }",
    "  }",
    "}",
    "",
  ].join("\n");

  var HEADERS = '{\n  "Authorization": "Bearer "\n}';

  // The bearer token in a Headers pane text, or null.
  function tokenOf(text) {
    try {
      var headers = JSON.parse(text || "{}");
      var value = headers.Authorization || headers.authorization || "";
      var match = /^Bearer\s+(\S+)$/.exec(String(value).trim());
      return match ? match[1] : null;
    } catch (error) {
      return null;
    }
  }

  function Page() {
    var state = React.useState(null);
    var token = state[0];
    var setToken = state[1];
    var timer = React.useRef(null);
    // Every request is refused without a token: the schema (for completion and the docs)
    // is fetched once there is one, and again when it changes; a new fetcher triggers it.
    var fetcher = React.useMemo(
      function () {
        return GraphiQL.createFetcher({ url: window.location.pathname });
      },
      [token]
    );
    function onEditHeaders(text) {
      window.clearTimeout(timer.current);
      timer.current = window.setTimeout(function () {
        setToken(tokenOf(text));
      }, 400);
    }
    return React.createElement(GraphiQL, {
      fetcher: fetcher,
      schema: token ? undefined : null,
      defaultQuery: WELCOME,
      defaultHeaders: HEADERS,
      defaultEditorToolsVisibility: "headers",
      isHeadersEditorEnabled: true,
      onEditHeaders: onEditHeaders,
      // A bearer token is a password: not kept in the browser's localStorage.
      shouldPersistHeaders: false,
      inputValueDeprecation: true,
    });
  }

  ReactDOM.createRoot(document.getElementById("graphiql")).render(React.createElement(Page));
})();
