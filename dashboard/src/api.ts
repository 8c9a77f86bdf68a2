// The one way the dashboard talks to promptgraph: its GraphQL API at /graphql, with the key
// the user signed in with. API errors become ApiError, whose message is the server's words.
import { ClientError, GraphQLClient } from "graphql-request";

export type Role = "VIEWER" | "AGENT" | "EDITOR" | "ADMIN";
export interface Viewer {
  user: string;
  workspace: string;
  role: Role;
}

export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

const UNREACHABLE = "The server could not be reached; check that promptgraph is running.";

function apiError(error: unknown): ApiError {
  if (error instanceof ClientError) {
    const first = error.response.errors?.[0];
    const code = String(first?.extensions?.["code"] ?? `HTTP ${error.response.status}`);
    if (code === "UNAUTHENTICATED") {
      return new ApiError("This key was not accepted: check it and sign in again.", code);
    }
    const message = first?.message ?? `The server answered HTTP ${error.response.status}.`;
    return new ApiError(message, code);
  }
  if (error instanceof ApiError) return error;
  return new ApiError(UNREACHABLE, "NETWORK");
}

export class Api {
  private readonly client: GraphQLClient;

  constructor(readonly key: string) {
    this.client = new GraphQLClient(new URL("/graphql", window.location.href).toString(), {
      headers: { Authorization: `Bearer ${key}` },
    });
  }

  async request<T>(document: string, variables: Record<string, unknown> = {}): Promise<T> {
    try {
      return await this.client.request<T>(document, variables);
    } catch (error) {
      throw apiError(error);
    }
  }

  async viewer(): Promise<Viewer> {
    const data = await this.request<{ viewer: Viewer }>("query Viewer { viewer { user workspace role } }");
    return data.viewer;
  }
}
