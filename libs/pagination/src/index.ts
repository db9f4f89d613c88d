export {
  createdCursor,
  CursorCodec,
  PageSizeQuery,
  toInteger,
  type CreatedPosition,
  type CursorPage,
} from './cursor-page';
