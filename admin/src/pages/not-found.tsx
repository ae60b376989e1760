import { EmptyState, PageHeader } from "@/components/page-header";
import { ButtonLink } from "@/components/ui/button";

export function NotFoundPage() {
  return (
    <>
      <PageHeader title="Page not found" />
      <EmptyState title="There is nothing at this address.">
        <div className="pt-3">
          <ButtonLink to="/">Go to the dashboard</ButtonLink>
        </div>
      </EmptyState>
    </>
  );
}
