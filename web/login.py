"""The login form a page with a web token shows first (plain HTML: no script, styled by the page's own CSS)."""

LOGIN_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Lumaflow: log in</title><link rel="stylesheet" href="/static/app.css"></head>
<body class="login">
<main>
<h1>Lumaflow</h1>
<form method="post" action="/login">
<label for="token">Access token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Log in</button>
<p role="alert">{message}</p>
</form>
</main>
</body>
</html>
"""
