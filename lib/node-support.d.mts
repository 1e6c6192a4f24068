// Types for lib/node-support.mjs (plain JavaScript so that an unsupported Node can run it).
export declare const ENGINES: string
export declare function isSupported(version?: string): boolean
export declare function refusal(version?: string): { error: string; hint: string }
