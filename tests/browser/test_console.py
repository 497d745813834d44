"""The browser's console stays clean on the sign-in page and the dashboard: no failed request
(the walk-through found a 404 for /favicon.ico on every first page) and no script error."""


def test_no_console_error_on_sign_in_and_dashboard(demo_data, page, login):
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("response", lambda response: errors.append(f"{response.status} {response.url}") if response.status >= 400 else None)
    login("alan@contoso.example")
    page.goto("/")
    page.wait_for_load_state("networkidle")
    assert not errors, errors
