// The shapes the pages read from the API, and a version's content as text (for display and diffs).
export interface ChatMessage {
  role: string;
  content: string;
  name: string | null;
}

export interface Content {
  templateText: string | null;
  messages: ChatMessage[] | null;
  description: string | null;
}

export interface Revision extends Content {
  replacedAt: string;
  replacedBy: string;
}

export interface Version extends Content {
  version: number;
  tags: string[];
  labels: string[];
  isActive: boolean;
  isLatest: boolean;
  createdAt: string;
  createdBy: string;
  variables: string[];
  modelConfig: { provider: string | null; model: string; parameters: unknown } | null;
  revisions: Revision[];
}

export interface Label {
  name: string;
  version: number;
  updatedAt: string;
}

export interface Prompt {
  name: string;
  fqn: string;
  type: "TEXT" | "CHAT";
  versionCount: number;
  labels: Label[];
  versions: { items: Version[]; pagination: { total: number } };
}

export const CONTENT_FIELDS = "templateText messages { role content name } description";

/** The content as the text a person reads and a diff compares: template or messages, then description. */
export function contentText(content: Content): string {
  const body =
    content.templateText ??
    (content.messages ?? []).map((message) => `[${message.role}${message.name ? ` ${message.name}` : ""}]\n${message.content}`).join("\n\n");
  return content.description ? `${body}\n\n# description: ${content.description}` : body;
}
