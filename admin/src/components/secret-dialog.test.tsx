import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { useState } from "react";
import { describe, expect, it, vi } from "vitest";

import { SecretDialog } from "./secret-dialog";

function Harness({ onDone }: { onDone: () => void }) {
  const [secret, setSecret] = useState<string | null>("s3cr3t-value");
  return (
    <SecretDialog
      secret={secret}
      title="App created"
      what="client secret"
      details={[{ label: "Client id", value: "client-123" }]}
      onDone={() => {
        setSecret(null);
        onDone();
      }}
    />
  );
}

describe("SecretDialog", () => {
  it("shows the secret once and only closes after the admin confirms storing it", async () => {
    const user = userEvent.setup();
    const onDone = vi.fn();
    const { container } = render(<Harness onDone={onDone} />);

    const dialog = screen.getByRole("dialog", { name: "App created" });
    expect(dialog).toHaveProperty("open", true);
    expect(screen.getByText("s3cr3t-value")).toBeTruthy();
    expect(screen.getByText("client-123")).toBeTruthy();
    expect(screen.getByText("You will not see this again.")).toBeTruthy();

    const done = screen.getByRole("button", { name: "Done" });
    expect(done).toHaveProperty("disabled", true);
    // Not dismissible: no close button, and Esc does nothing.
    expect(screen.queryByRole("button", { name: "Close" })).toBeNull();
    dialog.dispatchEvent(new Event("cancel", { cancelable: true }));
    expect(onDone).not.toHaveBeenCalled();

    await user.click(screen.getByRole("checkbox", { name: /I have copied the client secret/ }));
    expect(done).toHaveProperty("disabled", false);
    await user.click(done);
    expect(onDone).toHaveBeenCalledTimes(1);
    // The secret leaves the DOM with the dialog.
    expect(container.ownerDocument.body.textContent).not.toContain("s3cr3t-value");
    expect(dialog).toHaveProperty("open", false);
  });
});
