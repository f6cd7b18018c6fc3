// The header's sign-in control (present only when the server signs browsers in at an issuer).
// The pages keep their view in the URL and change it as the user works, so "Sign in" leads
// back to the view as it is when clicked, not as it was when the page was served.
import { signInHref } from "./common.js";

const link = document.getElementById("sign-in");
if (link) link.addEventListener("click", () => { link.href = signInHref(); });
