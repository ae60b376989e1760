import { ChevronLeft, ChevronRight } from "lucide-react";

import { Button } from "@/components/ui/button";

interface PagerProps {
  pageNumber: number;
  hasPrevious: boolean;
  hasNext: boolean;
  onPrevious: () => void;
  onNext: () => void;
  label: string;
}

/** Previous / next over a cursor-paged list. */
export function Pager({ pageNumber, hasPrevious, hasNext, onPrevious, onNext, label }: PagerProps) {
  if (!hasPrevious && !hasNext) return null;
  return (
    <nav aria-label={`${label} pages`} className="flex items-center justify-end gap-2 pt-3">
      <span className="mr-2 text-xs text-muted-foreground" aria-live="polite">
        Page {pageNumber}
      </span>
      <Button variant="outline" size="sm" onClick={onPrevious} disabled={!hasPrevious}>
        <ChevronLeft aria-hidden="true" /> Previous
      </Button>
      <Button variant="outline" size="sm" onClick={onNext} disabled={!hasNext}>
        Next <ChevronRight aria-hidden="true" />
      </Button>
    </nav>
  );
}
