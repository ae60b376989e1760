import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { useState } from "react";
import { describe, expect, it } from "vitest";

import { compactUris, errorForRows, UriList } from "./uri-list";

describe("errorForRows", () => {
  it("maps the API's index in the sent list back to the row on screen", () => {
    // Row 1 was left empty, so the API's redirect_uris[1] is row 2.
    const { uris, rowOf } = compactUris(["https://a.example.com/cb", "  ", "http://b.example.com/cb"]);
    expect(uris).toEqual(["https://a.example.com/cb", "http://b.example.com/cb"]);
    expect(errorForRows("redirect_uris[1]", "bad", { redirect_uris: rowOf })).toEqual({ "redirect_uris[2]": "bad" });
    expect(errorForRows("name", "empty", { redirect_uris: rowOf })).toEqual({ name: "empty" });
    expect(errorForRows("redirect_uris", "too many", { redirect_uris: rowOf })).toEqual({ redirect_uris: "too many" });
  });
});

function Harness({ errors }: { errors: Record<string, string> }) {
  const [values, setValues] = useState(["https://a.example.com/cb", "http://b.example.com/cb"]);
  return <UriList label="Redirect URIs" name="redirect_uris" values={values} onChange={setValues} errors={errors} />;
}

describe("UriList", () => {
  it("shows a field error on its own row, linked for screen readers", () => {
    render(<Harness errors={{ "redirect_uris[1]": "http is only allowed for loopback hosts" }} />);
    const first = screen.getByRole("textbox", { name: "Redirect URIs 1" });
    const second = screen.getByRole("textbox", { name: "Redirect URIs 2" });
    expect(first.getAttribute("aria-invalid")).toBeNull();
    expect(second.getAttribute("aria-invalid")).toBe("true");
    const describedBy = second.getAttribute("aria-describedby");
    expect(describedBy && document.getElementById(describedBy)?.textContent).toBe("http is only allowed for loopback hosts");
    expect(screen.getByRole("alert").textContent).toBe("http is only allowed for loopback hosts");
  });

  it("adds and removes rows", async () => {
    const user = userEvent.setup();
    render(<Harness errors={{}} />);
    await user.click(screen.getByRole("button", { name: "Add URI" }));
    expect(screen.getAllByRole("textbox")).toHaveLength(3);
    await user.type(screen.getByRole("textbox", { name: "Redirect URIs 3" }), "https://c.example.com/cb");
    await user.click(screen.getByRole("button", { name: "Remove redirect URI 1" }));
    const values = screen.getAllByRole("textbox").map((i) => (i as HTMLInputElement).value);
    expect(values).toEqual(["http://b.example.com/cb", "https://c.example.com/cb"]);
  });
});
